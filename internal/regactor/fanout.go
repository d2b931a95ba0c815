package regactor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/catalog"
	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/events"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// fanOut is the registry's delivery actor. The registry actor stores a
// registration and hands it over with one send; the fan-out actor builds
// its events, publishes them and sends them to the callback actors, while
// the registry takes the next registration. It is the only sender of
// events, and the registry's replies to model and callback requests go
// through it too, so its mailbox keeps the registry's order: each callback
// actor gets its events in registration order, and such a reply comes
// after the events of every request before it.
//
// It is not the registry's child: a stopping actor's children are stopped
// before their mailboxes are read, which would lose the events of
// registrations already answered. It outlives a restart of the registry
// actor (the next instance takes it over, so the order holds across the
// restart); a registry that stops poisons it, so it sends everything it was
// handed first, and Close waits for it (Plan.WaitFanOut). Its name is the
// registry's with "-fanout": outside the registry's subtree, which a node
// may export to peers.
type fanOut struct {
	p       *Plan
	events  eventBuilder
	stopped func()
}

// fanOutRef is a registry's fan-out actor, kept in its Plan.
type fanOutRef struct {
	pid      *actor.PID
	poisoned atomic.Bool
	// handover is set by a registry actor that restarts: the next instance
	// takes the fan-out over (and only that one: a registry spawned again
	// after a stop starts a fan-out of its own).
	handover atomic.Bool
	stopped  chan struct{} // closed once it has stopped
}

// registered is a registration handed to the fan-out actor. Nothing in it
// that the fan-out reads changes once sent: fire is the catalog's list,
// which the catalog copies before it removes from it; of the model it
// reads what identifies it, which no change to a model touches; reply is
// built by the registry.
type registered struct {
	entry catalog.Entry[*models.Model]
	// fire lists the callbacks; those with run or hook ran in the registry.
	fire []catalogCallback
	// replyTo gets reply after the events.
	replyTo *actor.PID
	reply   *messages.ModelResult
}

// reply is a subscription's events (if any) and the reply to a model or
// callback request, handed to the fan-out actor.
type reply struct {
	out []delivery
	to  *actor.PID
	msg any
}

// Receive implements actor.Actor.
func (f *fanOut) Receive(c actor.Context) {
	// to and msg are the reply; a crash sends it still (see survive).
	var to *actor.PID
	var msg any
	defer func() { f.survive(c, recover(), to, msg) }()
	switch m := c.Message().(type) {
	case *registered:
		to, msg = m.replyTo, m.reply
		f.registered(c, m)
	case *reply:
		to, msg = m.to, m.msg
		for _, d := range m.out {
			send(c, d.target, d.event, d.last)
		}
	case *actor.Stopped:
		f.stopped()
	}
	if to != nil {
		c.Send(to, msg)
	}
}

func (f *fanOut) registered(c actor.Context, m *registered) {
	var ev *messages.ModelRegistered // one for every actor: a message is not changed once sent
	for _, cb := range m.fire {
		if cb.Target.run == nil && cb.Target.hook == nil {
			if ev == nil {
				ev = f.events.event(m.entry)
			}
			send(c, cb.Target, ev, cb.OneTime)
		}
	}
	// An event of its own: the hook and EventStream subscribers are plain
	// functions, not bound by the actors' rule that a message sent is not
	// changed.
	events.Publish(c.ActorSystem(), f.p.Events, f.p.Logger, f.p.Scrub, f.events.event(m.entry))
}

// survive keeps a crash from losing the fan-out, and with it every later
// event and reply. The request whose events it was sending was done (the
// registry stored the model or the callback), so its reply goes as it is,
// if the crash came before it: only events are lost.
func (f *fanOut) survive(c actor.Context, r any, to *actor.PID, msg any) {
	if r == nil {
		return
	}
	reason := crash.Wrap(r, f.p.Scrub).Reason
	logger := f.p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger.Error("dbactor: registry fan-out crashed; its events may be lost", "message", fmt.Sprintf("%T", c.Message()), "reason", reason)
	events.Publish(c.ActorSystem(), f.p.Events, f.p.Logger, f.p.Scrub, &messages.ActorCrashed{
		Actor: c.Self().GetId(), MessageType: fmt.Sprintf("%T", c.Message()), Reason: reason, Directive: "resume",
	})
	if to != nil {
		defer func() { _ = recover() }() // the reply's send was what crashed
		c.Send(to, msg)
	}
}

// send sends one event; last: the callback is consumed, and an owned
// callback actor stops after the event.
func send(c actor.Context, t callbackTarget, ev *messages.ModelRegistered, last bool) {
	c.Send(t.pid, ev)
	if last && t.owned {
		c.Poison(t.pid)
	}
}

// eventBuilder builds a registry's ModelRegistered events.
type eventBuilder struct {
	schema string // the registry's, for a model without a schema of its own
}

// event is the ModelRegistered of e.
func (b eventBuilder) event(e catalog.Entry[*models.Model]) *messages.ModelRegistered {
	schema := e.Model.Schema()
	if schema == "" {
		schema = b.schema
	}
	return &messages.ModelRegistered{
		Name: e.Model.Name(), Table: e.Model.Table(), Schema: schema,
		Database: e.Model.Database(), Sequence: e.Sequence,
	}
}

// startFanOut takes over the fan-out of the instance before, when this
// one is its restart, or starts one.
func (a *registryActor) startFanOut(c actor.Context) {
	if f := a.p.fanOut.Load(); f != nil && f.handover.CompareAndSwap(true, false) && !f.poisoned.Load() {
		a.fanRef, a.fanout = f, f.pid // restarted: the order goes on
		return
	}
	ref := &fanOutRef{stopped: make(chan struct{})}
	var once sync.Once
	f := &fanOut{p: a.p, events: eventBuilder{schema: a.p.book.schema}, stopped: func() { once.Do(func() { close(ref.stopped) }) }}
	ref.pid = c.ActorSystem().Root.SpawnPrefix(actor.PropsFromProducer(func() actor.Actor { return f }), c.Self().GetId()+"-fanout")
	a.p.fanOut.Store(ref)
	a.fanRef, a.fanout = ref, ref.pid
}

// handFanOutOver leaves the fan-out to the instance that replaces this
// one on a restart.
func (a *registryActor) handFanOutOver() {
	if a.fanRef != nil {
		a.fanRef.handover.Store(true)
	}
}

// stopFanOut lets this instance's fan-out actor send what it was handed,
// then stop.
func (a *registryActor) stopFanOut(c actor.Context) {
	if a.fanRef != nil && !a.fanRef.poisoned.Swap(true) {
		c.Poison(a.fanRef.pid)
	}
}

// reply answers the request being handled: a model or callback request's
// reply (a refusal, a crash's) goes through the fan-out, after the events
// and replies of the requests before it; any other directly.
func (a *registryActor) reply(c actor.Context, r any) {
	switch c.Message().(type) {
	case *messages.RegisterModel, *messages.DeleteModel, *messages.RegisterCallback, *SpawnCallback, *RegisterHook:
		if a.fanout != nil {
			a.respondAfter(c, r, nil)
			return
		}
	}
	respond(c, r)
}

// respondAfter answers a model or callback request through the fan-out
// actor, after out (a subscription's events) and after the events of every
// request before it.
func (a *registryActor) respondAfter(c actor.Context, msg any, out []delivery) {
	// A registry that refused to start has no fan-out, and refuses these
	// requests before they get here.
	if sender := c.Sender(); sender != nil || len(out) > 0 {
		c.Send(a.fanout, &reply{out: out, to: sender, msg: msg})
	}
}

// WaitFanOut waits until the fan-out actor of the registry actor that
// stopped last has sent what it was handed and stopped.
func (p *Plan) WaitFanOut(ctx context.Context) error {
	f := p.fanOut.Load()
	if f == nil {
		return nil
	}
	select {
	case <-f.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the registry's fan-out actor to stop: %w", ctx.Err())
	}
}
