package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/ask"
	"github.com/dbactor/dbactor/internal/deadline"
)

// gate lets Close refuse new calls and wait for those in flight, so no reply
// is lost when the actors stop.
type gate struct {
	mu     sync.RWMutex
	closed bool
	calls  sync.WaitGroup
}

func (g *gate) enter() error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return fmt.Errorf("%w: registry is closed", ErrClosed)
	}
	g.calls.Add(1)
	return nil
}

func (g *gate) leave() { g.calls.Done() }

// shut refuses new calls and waits for those in flight; first reports
// whether this call shut it.
func (g *gate) shut(ctx context.Context) (first bool, err error) {
	g.mu.Lock()
	first, g.closed = !g.closed, true
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.calls.Wait(); close(done) }()
	select {
	case <-done:
		return first, nil
	case <-ctx.Done():
		return first, fmt.Errorf("dbactor: close: calls still in flight: %w", context.Cause(ctx))
	}
}

// caller sends facade requests to actors of one actor system. Its calls pass
// every gate in gates: a database shared from another registry is closed to
// a registry's callers when either registry closes.
type caller struct {
	system  *actor.ActorSystem
	gates   []*gate
	timeout time.Duration
	// lost, when set, gives a channel closed once pid's node is known to
	// have gone away: a call waiting on it then fails with ErrUnavailable
	// at once instead of at its deadline (an attached Client).
	lost func(pid *actor.PID) <-chan struct{}
}

// lateGrace is how long a call keeps listening, after its caller gave up,
// for a reply whose effect must be undone.
const lateGrace = 5 * time.Second

func (c *caller) enter() error {
	for i, g := range c.gates {
		if err := g.enter(); err != nil {
			for _, h := range c.gates[:i] {
				h.leave()
			}
			return err
		}
	}
	return nil
}

func (c *caller) leave() {
	for _, g := range c.gates {
		g.leave()
	}
}

// call sends the request build makes (given the deadline to put in it) and
// waits for the reply. When the caller gives up first (ctx cancelled or past
// its deadline) and undo is set, the call keeps listening in the background
// and hands a late reply to undo — so a connect that completes after its
// caller left keeps no count nobody owns. Close waits for that too.
func (c *caller) call(ctx context.Context, pid *actor.PID, build func(*timestamppb.Timestamp) any, undo func(reply any)) (any, error) {
	if err := c.enter(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// Given up already: sending would only make work to undo.
		c.leave()
		return nil, requestError(err)
	}
	d := deadline.FromContext(ctx, time.Now(), c.timeout)
	ctx, cancel := context.WithDeadline(ctx, d)
	defer cancel()
	var lost <-chan struct{}
	if c.lost != nil {
		lost = c.lost(pid)
	}
	pending := ask.Send(c.system, pid, build(deadline.Proto(d)))
	reply, err := pending.WaitOr(ctx, lost)
	if err == nil || undo == nil || (ctx.Err() == nil && !errors.Is(err, ask.ErrNodeLost)) {
		pending.Close()
		c.leave()
		return reply, requestError(err)
	}
	pending.Abandon(max(time.Until(d), 0)+lateGrace, undo, c.leave)
	return nil, requestError(err)
}

// undo sends msg — a disconnect giving back a late connect — straight to
// pid, past the gates: it is cleanup owed by a call that already entered
// them, and must happen even while the registry closes.
func (c *caller) undo(pid *actor.PID, msg any) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	_, _ = ask.Request(ctx, c.system, pid, msg, 0)
}

// requestError classifies a failure to get a reply.
func requestError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ask.ErrNoActor):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, ask.ErrNodeLost):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrCanceled, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ask.ErrTimeout):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}
