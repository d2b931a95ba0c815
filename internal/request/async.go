package request

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/messages"
)

// Async sends the request build makes (given its deadline) to pid on behalf
// of the actor of c, and runs done on that actor — between two of its
// messages, never alongside Receive (ReenterAfter) — once the reply or the
// timeout comes, whichever is first. refused, when set, is the outcome at
// once: nothing is sent. undo, when set, gets a reply the actor will never
// see: one that came after the timeout, or after the actor stopped (done
// then does not run). Failures to get a reply are classified by Err.
//
// Not actor.Context.RequestFuture: its future unregisters itself when it
// times out, so a late reply would go to dead letters and a late connect
// could not be undone. The request has a Pending of its own, which settles a
// plain future once; the requesting actor is watched, so a stop gives up
// on the reply.
func Async(c actor.Context, pid *actor.PID, timeout time.Duration, refused error, build func(*timestamppb.Timestamp) any, undo func(reply any), done func(reply any, err error)) {
	sys := c.ActorSystem()
	fut := actor.NewFuture(sys, -1)
	var once sync.Once
	settle := func() {
		once.Do(func() {
			if p, ok := sys.ProcessRegistry.Get(fut.PID()); ok {
				p.SendUserMessage(fut.PID(), struct{}{})
			}
		})
	}
	if refused == nil && pid == nil {
		refused = fmt.Errorf("%w: %w", messages.ErrInvalidArgument, errNoRegistry)
	}
	if refused != nil {
		c.ReenterAfter(fut, func(any, error) { done(nil, refused) })
		settle()
		return
	}
	p := newPending(sys, pid, undo, nil)
	p.notify = settle
	p.watched = c.Self()
	p.deadline = time.Now().Add(timeout)
	p.register()
	timer := time.AfterFunc(timeout, settle)
	c.ReenterAfter(fut, func(any, error) {
		timer.Stop()
		if reply, err, ok := p.take(); ok {
			done(reply, Err(err))
			return
		}
		p.mu.Lock()
		stopped := p.gaveUp // by the actor's Terminated
		p.mu.Unlock()
		if stopped {
			return // the actor stopped (a restart keeps its watchers)
		}
		p.giveUp()
		err := fmt.Errorf("no reply from %s within %v: %w", pid.GetId(), timeout, context.DeadlineExceeded)
		done(nil, Err(err))
	})
	// The reply address hears when the actor stops: a reply it can no
	// longer learn of is given up on then.
	SendSystem(sys, c.Self(), &actor.Watch{Watcher: p.pid})
	c.RequestWithCustomSender(pid, build(deadline.Proto(p.deadline)), p.pid)
}

// Sender is what can send a request with a reply address of its own: an
// actor.Context or a RootContext.
type Sender interface {
	RequestWithCustomSender(pid *actor.PID, message any, sender *actor.PID)
}

// Relay sends msg to pid through s and hands the first reply to finish on
// the goroutine that answers — no goroutine waits for it. Without a reply
// within timeout, finish gets ErrTimeout, and a reply after that (within
// LateGrace) goes to late. A dead letter reaches finish as ErrNoActor.
func Relay(s Sender, sys *actor.ActorSystem, pid *actor.PID, msg any, timeout time.Duration, finish func(reply any, err error), late func(reply any)) {
	p := newPending(sys, pid, late, nil)
	p.deadline = time.Now().Add(timeout)
	var once sync.Once
	var timer *time.Timer
	settle := func() {
		once.Do(func() {
			if reply, err, ok := p.take(); ok {
				finish(reply, err)
				return
			}
			p.giveUp()
			finish(nil, fmt.Errorf("no reply from %s within %v: %w", pid.GetId(), timeout, ErrTimeout))
		})
	}
	p.notify = settle
	var mu sync.Mutex
	p.over = func() {
		mu.Lock()
		defer mu.Unlock()
		if timer != nil {
			timer.Stop()
		}
	}
	p.register()
	mu.Lock()
	timer = time.AfterFunc(timeout, settle)
	mu.Unlock()
	s.RequestWithCustomSender(pid, msg, p.pid)
}
