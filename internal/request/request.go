package request

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

var (
	// ErrNoActor is returned when the target does not exist (any more): the
	// dead-letter process answered instead of the actor.
	ErrNoActor = errors.New("actor not found")
	// ErrTimeout is returned when no reply came before the timeout and ctx
	// carried no earlier deadline.
	ErrTimeout = errors.New("no reply before timeout")
	// ErrNodeLost is returned by Wait when its lost channel closed first:
	// the target's node went away.
	ErrNodeLost = errors.New("the actor's node went away")
)

// LateGrace is how long a request keeps listening, past the deadline it
// carries (or past the moment its caller gave up, if later), for a reply
// whose effect must be undone.
const LateGrace = 5 * time.Second

// Pending is a request whose reply has not been taken yet. Exactly one of
// two things ends it: the caller takes the reply, or gives up on it. A reply
// that comes after the caller gave up goes to late (when set), so that its
// effect — a connect nobody will see — can be undone.
type Pending struct {
	sys    *actor.ActorSystem
	pid    *actor.PID // the reply address: this process
	target *actor.PID
	late   func(reply any)
	over   func()
	ready  chan struct{} // closed when the reply came
	notify func()        // called once when the reply came in time (Async)

	mu        sync.Mutex
	reply     any
	replied   bool
	finished  bool // taken or given up
	gaveUp    bool
	graceOver bool
	lateBusy  bool
	ended     bool
	timer     *time.Timer
	watched   *actor.PID // the requesting actor (Async)
	// deadline is the one the request carries: the target may still act
	// on it until then, so a late reply is awaited until then + LateGrace.
	deadline time.Time
}

// Send sends msg to pid with a fresh reply address. late, when set, gets a
// reply that comes after the caller gave up; over, when set, runs once the
// request is over (the reply taken, or the grace for a late one ended and
// late returned).
func Send(sys *actor.ActorSystem, pid *actor.PID, msg any, late func(reply any), over func()) *Pending {
	p := newPending(sys, pid, late, over)
	p.register()
	sys.Root.RequestWithCustomSender(pid, msg, p.pid)
	return p
}

// newPending makes a Pending; set its other fields, then register it.
func newPending(sys *actor.ActorSystem, pid *actor.PID, late func(any), over func()) *Pending {
	return &Pending{sys: sys, target: pid, late: late, over: over, ready: make(chan struct{})}
}

// register gives p its reply address: from here on it may be called.
func (p *Pending) register() {
	p.pid, _ = p.sys.ProcessRegistry.Add(p, "req$"+p.sys.ProcessRegistry.NextId())
}

// Wait waits for the reply until ctx ends or lost (nil: never) is closed,
// then gives up on it. A reply that is there when ctx ends wins over ctx.
// The target may act on the request until ctx's deadline: a late reply is
// awaited until then (plus LateGrace).
func (p *Pending) Wait(ctx context.Context, lost <-chan struct{}) (any, error) {
	if d, ok := ctx.Deadline(); ok {
		p.mu.Lock()
		p.deadline = d
		p.mu.Unlock()
	}
	select {
	case <-p.ready:
	case <-lost:
		p.giveUp()
		return nil, fmt.Errorf("%w: %s", ErrNodeLost, p.target.GetAddress())
	case <-ctx.Done():
	}
	if reply, err, ok := p.take(); ok {
		return reply, err
	}
	p.giveUp()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: the reply was given up on", messages.ErrInternal)
}

// Replied reports whether the reply has come (and not been taken yet).
func (p *Pending) Replied() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replied && !p.finished
}

// Close gives up on the reply, as a Wait whose ctx ended would.
func (p *Pending) Close() { p.giveUp() }

// take hands the reply to the caller, if it came and nobody had it yet.
func (p *Pending) take() (any, error, bool) {
	p.mu.Lock()
	if p.finished || !p.replied {
		p.mu.Unlock()
		return nil, nil, false
	}
	p.finished = true
	reply := p.reply
	end := p.endable()
	p.mu.Unlock()
	if end {
		p.end()
	}
	if _, dead := reply.(*actor.DeadLetterResponse); dead {
		return nil, fmt.Errorf("%w: %s", ErrNoActor, p.target.GetId()), true
	}
	return reply, nil, true
}

// giveUp ends the caller's interest: a reply already there, or one coming
// within LateGrace, goes to late.
func (p *Pending) giveUp() {
	p.mu.Lock()
	if p.finished {
		p.mu.Unlock()
		return
	}
	p.finished, p.gaveUp = true, true
	if p.replied {
		p.lateBusy = p.late != nil
		reply := p.reply
		p.mu.Unlock()
		p.runLate(reply)
		return
	}
	if p.late == nil {
		p.graceOver = true
	} else {
		p.timer = time.AfterFunc(max(time.Until(p.deadline), 0)+LateGrace, p.endGrace)
	}
	end := p.endable()
	p.mu.Unlock()
	if end {
		p.end()
	}
}

func (p *Pending) endGrace() {
	p.mu.Lock()
	p.graceOver = true
	end := p.endable()
	p.mu.Unlock()
	if end {
		p.end()
	}
}

// runLate hands a reply nobody took to late, off the sender's goroutine
// (late may block: it sends a request of its own), then ends p.
func (p *Pending) runLate(reply any) {
	go func() {
		if _, dead := reply.(*actor.DeadLetterResponse); !dead && p.late != nil {
			p.late(reply)
		}
		p.mu.Lock()
		p.lateBusy = false
		end := p.endable()
		p.mu.Unlock()
		if end {
			p.end()
		}
	}()
}

// endable reports, under mu, whether p is over and claims its end.
func (p *Pending) endable() bool {
	if p.ended || !p.finished || p.lateBusy || !(p.replied || p.graceOver) {
		return false
	}
	p.ended = true
	return true
}

func (p *Pending) end() {
	p.mu.Lock()
	t, w := p.timer, p.watched
	p.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	if w != nil {
		SendSystem(p.sys, w, &actor.Unwatch{Watcher: p.pid})
	}
	p.sys.ProcessRegistry.Remove(p.pid)
	if p.over != nil {
		p.over()
	}
}

// SendUserMessage implements actor.Process: the reply.
func (p *Pending) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	p.mu.Lock()
	if p.replied || p.ended {
		p.mu.Unlock()
		return // only the first reply counts, and only while p is registered
	}
	p.replied, p.reply = true, msg
	if p.gaveUp {
		p.lateBusy = p.late != nil
		p.mu.Unlock()
		p.runLate(msg)
		return
	}
	close(p.ready)
	notify := p.notify
	p.mu.Unlock()
	if notify != nil {
		notify()
	}
}

// SendSystemMessage implements actor.Process: the Terminated of the
// requesting actor (Async) gives up on the reply. Any other (a peer may
// send one) is ignored.
func (p *Pending) SendSystemMessage(_ *actor.PID, message any) {
	t, ok := message.(*actor.Terminated)
	if !ok {
		return
	}
	p.mu.Lock()
	mine := p.watched != nil && t.GetWho().Equal(p.watched)
	if mine {
		p.watched = nil // gone: no Unwatch to send
	}
	p.mu.Unlock()
	if mine {
		p.giveUp()
	}
}

// Stop implements actor.Process.
func (p *Pending) Stop(*actor.PID) {}

// Request sends msg to pid and waits for the first reply. It gives up when
// ctx ends, or after timeout when ctx has no deadline (timeout <= 0: wait for
// ctx only). Safe from any goroutine, but not inside Receive (it blocks).
func Request(ctx context.Context, sys *actor.ActorSystem, pid *actor.PID, msg any, timeout time.Duration) (any, error) {
	if _, ok := ctx.Deadline(); !ok && timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, ErrTimeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return Send(sys, pid, msg, nil, nil).Wait(ctx, nil)
}

// WaitStopped stops pid (Stop, or Poison when poison is set: queued messages
// are processed first) and waits until it has terminated or ctx ends.
func WaitStopped(ctx context.Context, sys *actor.ActorSystem, pid *actor.PID, poison bool) error {
	done := make(chan struct{})
	w := &watcher{who: pid, done: done}
	w.pid, _ = sys.ProcessRegistry.Add(w, "stop$"+sys.ProcessRegistry.NextId())
	defer sys.ProcessRegistry.Remove(w.pid)
	// A Watch that reaches no actor comes back as Terminated (NotFound).
	SendSystem(sys, pid, &actor.Watch{Watcher: w.pid})
	if poison {
		sys.Root.Poison(pid)
	} else {
		sys.Root.Stop(pid)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// watcher is a process that closes done when who has terminated.
type watcher struct {
	pid, who *actor.PID
	once     sync.Once
	done     chan struct{}
}

func (w *watcher) SendUserMessage(*actor.PID, any) {}
func (w *watcher) SendSystemMessage(_ *actor.PID, m any) {
	if t, ok := m.(*actor.Terminated); ok && t.GetWho().Equal(w.who) {
		w.once.Do(func() { close(w.done) })
	}
}
func (w *watcher) Stop(*actor.PID) {}

// SendSystem sends a system message (Watch, Unwatch) to pid: a stopped
// actor answers a Watch with Terminated.
func SendSystem(sys *actor.ActorSystem, pid *actor.PID, msg any) {
	p, _ := sys.ProcessRegistry.Get(pid) // dead letters when it is gone
	p.SendSystemMessage(pid, msg)
}

// Err classifies a failure to get a reply as the protocol's sentinels.
func Err(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoActor):
		return fmt.Errorf("%w: %w", messages.ErrClosed, err)
	case errors.Is(err, ErrNodeLost):
		return fmt.Errorf("%w: %w", messages.ErrUnavailable, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", messages.ErrCanceled, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrTimeout):
		return fmt.Errorf("%w: %w", messages.ErrTimeout, err)
	}
	return err
}
