package ask

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

var (
	// ErrNoActor is returned when the target does not exist (any more): the
	// dead-letter process answered instead of the actor.
	ErrNoActor = errors.New("actor not found")
	// ErrTimeout is returned when no reply came before the timeout and ctx
	// carried no earlier deadline.
	ErrTimeout = errors.New("no reply before timeout")
	// ErrNodeLost is returned by WaitOr when its lost channel closed first:
	// the target's node went away.
	ErrNodeLost = errors.New("the actor's node went away")
)

// Pending is a request whose reply has not been read yet.
type Pending struct {
	r   *receiver
	pid *actor.PID
}

// Send sends msg to pid with a fresh reply address. Call Close when done with
// the reply; until then the reply address stays registered.
func Send(system *actor.ActorSystem, pid *actor.PID, msg any) *Pending {
	r := newReceiver(system)
	system.Root.RequestWithCustomSender(pid, msg, r.pid)
	return &Pending{r: r, pid: pid}
}

// Wait waits for the reply until ctx ends. A reply that is there when ctx
// ends wins over ctx. Wait may be called again after a ctx error, with
// another ctx, to keep waiting for the same reply.
func (p *Pending) Wait(ctx context.Context) (any, error) {
	select {
	case reply := <-p.r.ch:
		return p.result(reply)
	case <-ctx.Done():
		select {
		case reply := <-p.r.ch:
			return p.result(reply)
		default:
			return nil, context.Cause(ctx)
		}
	}
}

// WaitOr is Wait that also gives up, with ErrNodeLost, when lost is closed
// (a nil lost never closes).
func (p *Pending) WaitOr(ctx context.Context, lost <-chan struct{}) (any, error) {
	if lost == nil {
		return p.Wait(ctx)
	}
	select {
	case reply := <-p.r.ch:
		return p.result(reply)
	case <-lost:
		return nil, fmt.Errorf("%w: %s", ErrNodeLost, p.pid.GetAddress())
	case <-ctx.Done():
		return p.Wait(ctx)
	}
}

func (p *Pending) result(reply any) (any, error) {
	if _, dead := reply.(*actor.DeadLetterResponse); dead {
		return nil, fmt.Errorf("%w: %s", ErrNoActor, p.pid.GetId())
	}
	return reply, nil
}

// Abandon gives up on the reply but keeps listening for it in the
// background for up to grace: a reply that still comes is passed to late
// (when not nil), so its effect can be undone. done runs when the
// background wait ends. Abandon closes p.
func (p *Pending) Abandon(grace time.Duration, late func(reply any), done func()) {
	go func() {
		defer func() {
			p.Close()
			if done != nil {
				done()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if reply, err := p.Wait(ctx); err == nil && late != nil {
			late(reply)
		}
	}()
}

// Close unregisters the reply address; a reply arriving later is dropped.
func (p *Pending) Close() { p.r.close() }

// Request sends msg to pid and waits for the first reply. It gives up when ctx
// ends, or after timeout when ctx has no deadline (timeout <= 0: wait for ctx
// only). It is safe from any goroutine, including a goroutine started by an
// actor, but must not be called inside Receive (it blocks).
func Request(ctx context.Context, system *actor.ActorSystem, pid *actor.PID, msg any, timeout time.Duration) (any, error) {
	if _, ok := ctx.Deadline(); !ok && timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, ErrTimeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := Send(system, pid, msg)
	defer p.Close()
	return p.Wait(ctx)
}

// WaitStopped stops pid (Stop, or Poison when poison is set: queued messages
// are processed first) and waits until it has terminated or ctx ends.
func WaitStopped(ctx context.Context, system *actor.ActorSystem, pid *actor.PID, poison bool) error {
	r := newReceiver(system)
	defer r.close()
	// A Watch that reaches no actor comes back as Terminated (NotFound).
	target, _ := system.ProcessRegistry.Get(pid)
	target.SendSystemMessage(pid, &actor.Watch{Watcher: r.pid})
	if poison {
		system.Root.Poison(pid)
	} else {
		system.Root.Stop(pid)
	}
	for {
		select {
		case m := <-r.ch:
			if t, ok := m.(*actor.Terminated); ok && t.GetWho().Equal(pid) {
				return nil
			}
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// receiver is a process registered under a unique id that delivers every
// message it gets, user or system, to a channel.
type receiver struct {
	system *actor.ActorSystem
	pid    *actor.PID
	ch     chan any
	mu     sync.Mutex
	closed bool
}

func newReceiver(system *actor.ActorSystem) *receiver {
	r := &receiver{system: system, ch: make(chan any, 4)}
	r.pid, _ = system.ProcessRegistry.Add(r, "ask$"+system.ProcessRegistry.NextId())
	return r
}

func (r *receiver) deliver(msg any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	select {
	case r.ch <- msg:
	default: // only the first replies matter; never block a sender
	}
}

func (r *receiver) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.system.ProcessRegistry.Remove(r.pid)
}

// SendUserMessage implements actor.Process.
func (r *receiver) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	r.deliver(msg)
}

// SendSystemMessage implements actor.Process.
func (r *receiver) SendSystemMessage(_ *actor.PID, message any) { r.deliver(message) }

// Stop implements actor.Process.
func (r *receiver) Stop(*actor.PID) {}
