package drain

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Drain is mailbox middleware for one actor (one Props: Proto.Actor shares
// a middleware instance among the actors of one Props).
type Drain struct {
	reply func(request any) any
	sys   atomic.Pointer[actor.ActorSystem]

	mu sync.Mutex
	// after, when set, holds the replies until it is closed: queue keeps
	// them in order, and flushing is set while a goroutine waits to send
	// them.
	after    <-chan struct{}
	queue    []held
	flushing bool
}

type held struct {
	to    *actor.PID
	reply any
}

// New returns a Drain whose reply builds the answer to a request left
// behind (nil for messages that are not requests).
func New(reply func(request any) any) *Drain { return &Drain{reply: reply} }

// Props returns the option installing d as the actor's mailbox middleware.
func (d *Drain) Props() actor.PropsOption { return actor.WithMailbox(actor.Unbounded(d)) }

// Stopped switches d on: call it from the actor's *actor.Stopped handler.
// With after not nil, the replies wait, in order, until after is closed:
// another actor is still sending the stopped one's earlier replies (the
// registry's fan-out), which these must not overtake.
func (d *Drain) Stopped(sys *actor.ActorSystem, after <-chan struct{}) {
	d.mu.Lock()
	d.after = after
	d.mu.Unlock()
	d.sys.Store(sys)
}

// Started switches d off again: call it when an actor of the props starts
// for good, as the props may be spawned again once their actor stopped.
func (d *Drain) Started() { d.sys.Store(nil) }

// MessageReceived implements actor.MailboxMiddleware.
func (d *Drain) MessageReceived(message any) {
	sys := d.sys.Load()
	if sys == nil {
		return
	}
	_, msg, sender := actor.UnwrapEnvelope(message)
	if sender == nil {
		return
	}
	r := d.reply(msg)
	if r == nil {
		return
	}
	d.mu.Lock()
	if !d.flushing && !waiting(d.after) {
		d.mu.Unlock()
		sys.Root.Send(sender, r)
		return
	}
	d.queue = append(d.queue, held{sender, r})
	if !d.flushing {
		d.flushing = true
		go d.flush(sys, d.after)
	}
	d.mu.Unlock()
}

// flush sends the held replies, in order, once after is closed.
func (d *Drain) flush(sys *actor.ActorSystem, after <-chan struct{}) {
	<-after
	for {
		d.mu.Lock()
		q := d.queue
		d.queue = nil
		if len(q) == 0 {
			d.flushing = false
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		for _, h := range q {
			sys.Root.Send(h.to, h.reply)
		}
	}
}

// waiting reports whether after is set and still open.
func waiting(after <-chan struct{}) bool {
	if after == nil {
		return false
	}
	select {
	case <-after:
		return false
	default:
		return true
	}
}

// MailboxStarted implements actor.MailboxMiddleware.
func (d *Drain) MailboxStarted() {}

// MessagePosted implements actor.MailboxMiddleware.
func (d *Drain) MessagePosted(any) {}

// MailboxEmpty implements actor.MailboxMiddleware.
func (d *Drain) MailboxEmpty() {}
