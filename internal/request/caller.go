package request

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/messages"
)

// Gate lets Close refuse new calls and wait for those in flight, so no
// reply (and no late connect to undo) is lost when the actors stop.
type Gate struct {
	mu     sync.RWMutex
	closed bool
	calls  sync.WaitGroup
}

// Enter admits a call, or refuses it with ErrClosed once Shut.
func (g *Gate) Enter() error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return fmt.Errorf("%w: registry is closed", messages.ErrClosed)
	}
	g.calls.Add(1)
	return nil
}

// Leave ends a call Enter admitted.
func (g *Gate) Leave() { g.calls.Done() }

// Shut refuses new calls and waits for those in flight; first reports
// whether this call shut it.
func (g *Gate) Shut(ctx context.Context) (first bool, err error) {
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

// Caller sends blocking requests to actors of one actor system, through
// every gate in Gates: a database shared from another registry is closed to
// a registry's callers when either registry closes.
type Caller struct {
	System  *actor.ActorSystem
	Gates   []*Gate
	Timeout time.Duration // bounds a call whose ctx has no deadline
	// Lost, when set, gives a channel closed once pid's node is known to
	// have gone away: a call waiting on it then fails with ErrUnavailable
	// at once instead of at its deadline (an attached client).
	Lost func(pid *actor.PID) <-chan struct{}
	// Refuse, when set, is asked before every call: an error refuses the
	// call at once (a registry's facade called from inside one of its
	// model hooks, which run inside the registry actor and would wait for
	// themselves).
	Refuse func() error
}

// Enter passes every gate, or none.
func (c *Caller) Enter() error {
	for i, g := range c.Gates {
		if err := g.Enter(); err != nil {
			for _, h := range c.Gates[:i] {
				h.Leave()
			}
			return err
		}
	}
	return nil
}

// Leave leaves every gate.
func (c *Caller) Leave() {
	for _, g := range c.Gates {
		g.Leave()
	}
}

// Call sends the request build makes (given the deadline to put in it) and
// waits for the reply. When the caller gives up first (ctx cancelled or past
// its deadline, or the node lost) and undo is set, the request keeps
// listening in the background and hands a late reply to undo — so a connect
// that completes after its caller left keeps no count nobody owns. The gates
// wait for that too. Failures to get a reply are classified by Err.
func (c *Caller) Call(ctx context.Context, pid *actor.PID, build func(*timestamppb.Timestamp) any, undo func(reply any)) (any, error) {
	if c.Refuse != nil {
		if err := c.Refuse(); err != nil {
			return nil, err
		}
	}
	if err := c.Enter(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// Given up already: sending would only make work to undo.
		c.Leave()
		return nil, Err(err)
	}
	d := deadline.FromContext(ctx, time.Now(), c.Timeout)
	ctx, cancel := context.WithDeadline(ctx, d)
	defer cancel()
	var lost <-chan struct{}
	if c.Lost != nil {
		lost = c.Lost(pid)
	}
	reply, err := Send(c.System, pid, build(deadline.Proto(d)), undo, c.Leave).Wait(ctx, lost)
	return reply, Err(err)
}

// GiveBack sends msg — a disconnect giving back a late connect — to pid
// past the gates and waits for its reply: cleanup owed by a call that
// already entered them, which must happen even while the registry closes.
func (c *Caller) GiveBack(pid *actor.PID, msg any) {
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	_, _ = Request(ctx, c.System, pid, msg, 0)
}

// Connected reports whether a reply is a connect that succeeded: what a
// caller who gave up must give back.
func Connected(reply any) bool {
	r, ok := reply.(*messages.ConnectResult)
	return ok && len(r.GetErrors()) == 0
}

// Unexpected is the error for a reply of the wrong type.
func Unexpected(reply any) error {
	return fmt.Errorf("%w: unexpected reply %T", messages.ErrInternal, reply)
}

var errNoRegistry = errors.New("no registry PID")
