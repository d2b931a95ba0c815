package drain

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Drain is mailbox middleware for one actor (one Props: Proto.Actor shares
// a middleware instance among the actors of one Props).
type Drain struct {
	reply func(request any) any
	sys   atomic.Pointer[actor.ActorSystem]
}

// New returns a Drain whose reply builds the answer to a request left
// behind (nil for messages that are not requests).
func New(reply func(request any) any) *Drain { return &Drain{reply: reply} }

// Props returns the option installing d as the actor's mailbox middleware.
func (d *Drain) Props() actor.PropsOption { return actor.WithMailbox(actor.Unbounded(d)) }

// Stopped switches d on: call it from the actor's *actor.Stopped handler.
func (d *Drain) Stopped(sys *actor.ActorSystem) { d.sys.Store(sys) }

// MessageReceived implements actor.MailboxMiddleware.
func (d *Drain) MessageReceived(message any) {
	sys := d.sys.Load()
	if sys == nil {
		return
	}
	if _, msg, sender := actor.UnwrapEnvelope(message); sender != nil {
		if r := d.reply(msg); r != nil {
			sys.Root.Send(sender, r)
		}
	}
}

// MailboxStarted implements actor.MailboxMiddleware.
func (d *Drain) MailboxStarted() {}

// MessagePosted implements actor.MailboxMiddleware.
func (d *Drain) MessagePosted(any) {}

// MailboxEmpty implements actor.MailboxMiddleware.
func (d *Drain) MailboxEmpty() {}
