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

// caller sends facade requests to actors of one actor system.
type caller struct {
	system  *actor.ActorSystem
	gate    *gate
	timeout time.Duration
}

// call sends the request build makes (given the deadline to put in it) and
// waits for the reply. When ctx is cancelled before the reply, undo (if not
// nil) runs in the background with the late reply — so a connect that
// completes after its caller left does not keep a count nobody owns.
func (c *caller) call(ctx context.Context, pid *actor.PID, build func(*timestamppb.Timestamp) any, undo func(reply any)) (any, error) {
	if err := c.gate.enter(); err != nil {
		return nil, err
	}
	d := deadline.FromContext(ctx, time.Now(), c.timeout)
	ctx, cancel := context.WithDeadline(ctx, d)
	defer cancel()
	pending := ask.Send(c.system, pid, build(deadline.Proto(d)))
	reply, err := pending.Wait(ctx)
	if err == nil || undo == nil || !errors.Is(err, context.Canceled) {
		pending.Close()
		c.gate.leave()
		return reply, requestError(err)
	}
	go func() { // the gate stays entered: Close waits for the undo
		defer c.gate.leave()
		defer pending.Close()
		wctx, cancel := context.WithDeadline(context.Background(), d)
		defer cancel()
		if late, err := pending.Wait(wctx); err == nil {
			undo(late)
		}
	}()
	return nil, requestError(err)
}

// requestError classifies a failure to get a reply.
func requestError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ask.ErrNoActor):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrCanceled, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ask.ErrTimeout):
		return fmt.Errorf("%w: no reply before the deadline: %w", ErrTimeout, err)
	}
	return err
}
