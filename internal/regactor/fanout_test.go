package regactor

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// recorder is an actor that passes on what it receives, and the pointer.
type recorder chan any

func (r recorder) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *messages.ModelRegistered, *messages.ModelResult, *messages.CallbackResult:
		r <- c.Message()
	}
}

func next(t *testing.T, r recorder) any {
	t.Helper()
	select {
	case m := <-r:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived")
		return nil
	}
}

// The fan-out actor sends a registration's one event to every callback
// actor, in order and before the reply to the requester; the EventStream
// and the event hook get an event of their own, alike; and after Poison it
// has sent everything it was handed.
func TestFanOut(t *testing.T) {
	sys := actor.NewActorSystem()
	a, b := make(recorder, 16), make(recorder, 16)
	pa := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	pb := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return b }))
	defer func() {
		require.NoError(t, sys.Root.StopFuture(pa).Wait())
		require.NoError(t, sys.Root.StopFuture(pb).Wait())
	}()
	var published []*messages.ModelRegistered
	sub := sys.EventStream.Subscribe(func(ev any) {
		if e, ok := ev.(*messages.ModelRegistered); ok {
			published = append(published, e) // Publish runs on the fan-out's goroutine: read after it stopped
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	var hooked []messages.Event
	p := &Plan{Events: func(e messages.Event) { hooked = append(hooked, e) }}
	bk := newBook("reg", map[string]bool{"": true})
	bk.subscribe("", new(false), callbackTarget{pid: pa})
	bk.subscribe("", new(false), callbackTarget{pid: pb})
	f := &fanOut{p: p, events: eventBuilder{schema: "reg"}, stopped: func() {}}
	fan := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return f }))

	var regs []*registered
	for _, name := range []string{"User", "Other"} {
		reg, err := bk.register(userDef(name), messages.OnConflict_ON_CONFLICT_ERROR)
		require.NoError(t, err)
		res := &messages.ModelResult{Model: reg.Entry.Model.Def(), Changed: true, Sequence: reg.Entry.Sequence}
		regs = append(regs, &registered{entry: reg.Entry, fire: reg.Fire, replyTo: pa, reply: res})
	}
	// A callback removed after the registration was handed over: the
	// list handed over is not changed under the fan-out (it is the
	// catalog's, which copies before it removes).
	require.Equal(t, 1, bk.unsubscribe(pb))
	for _, r := range regs {
		sys.Root.Send(fan, r)
	}
	require.NoError(t, sys.Root.PoisonFuture(fan).Wait())

	for i, name := range []string{"User", "Other"} {
		ea := next(t, a).(*messages.ModelRegistered)
		require.Equal(t, name, ea.GetName())
		require.Equal(t, "reg", ea.GetSchema())
		require.Equal(t, regs[i].entry.Sequence, ea.GetSequence())
		res := next(t, a).(*messages.ModelResult) // after the event
		require.True(t, res.GetChanged())
		require.Equal(t, name, res.GetModel().GetName())
		require.Same(t, ea, next(t, b), "one event for every actor")

		require.True(t, proto.Equal(ea, published[i]))
		require.NotSame(t, ea, published[i], "the EventStream's is its own")
		require.Same(t, published[i], hooked[i])
	}
	require.Len(t, published, 2)
}

// A subscription's events go before its reply; an owned callback actor
// whose one-time callback is consumed stops after its event.
func TestFanOutSubscription(t *testing.T) {
	sys := actor.NewActorSystem()
	a, owned := make(recorder, 16), make(recorder, 16)
	pa := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	defer func() { require.NoError(t, sys.Root.StopFuture(pa).Wait()) }()
	po := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return owned }))
	stopped := make(chan struct{})
	watcher := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *actor.Started:
			c.Watch(po)
		case *actor.Terminated:
			close(stopped)
		}
	}))
	defer func() { require.NoError(t, sys.Root.StopFuture(watcher).Wait()) }()

	bk := newBook("", map[string]bool{"": true})
	reg, err := bk.register(userDef("User"), messages.OnConflict_ON_CONFLICT_ERROR)
	require.NoError(t, err)
	ev := bk.event(reg.Entry)
	f := &fanOut{p: &Plan{}, stopped: func() {}}
	fan := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return f }))
	sys.Root.Send(fan, &reply{
		out: []delivery{{target: callbackTarget{pid: pa}, event: ev}, {target: callbackTarget{pid: po, owned: true}, event: ev, last: true}},
		to:  pa, msg: &messages.CallbackResult{Fired: 1},
	})
	require.NoError(t, sys.Root.PoisonFuture(fan).Wait())
	require.Same(t, ev, next(t, a))
	require.EqualValues(t, 1, next(t, a).(*messages.CallbackResult).GetFired())
	require.Same(t, ev, next(t, owned))
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the owned callback actor did not stop after its last event")
	}
}

// A crash in the fan-out loses only the events it was sending: the reply
// still goes, the crash is published, and the next hand-over is sent.
func TestFanOutSurvives(t *testing.T) {
	sys := actor.NewActorSystem()
	a := make(recorder, 16)
	pa := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	defer func() { require.NoError(t, sys.Root.StopFuture(pa).Wait()) }()
	var crashed []*messages.ActorCrashed
	p := &Plan{Events: func(e messages.Event) {
		if c, ok := e.(*messages.ActorCrashed); ok {
			crashed = append(crashed, c) // the fan-out's goroutine: read after it stopped
		}
	}}
	f := &fanOut{p: p, stopped: func() {}}
	fan := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return f }))

	bk := newBook("", map[string]bool{"": true})
	reg, err := bk.register(userDef("User"), messages.OnConflict_ON_CONFLICT_ERROR)
	require.NoError(t, err)
	broken := []catalogCallback{{Target: callbackTarget{}}} // no PID: the send panics
	sys.Root.Send(fan, &registered{entry: reg.Entry, fire: broken, replyTo: pa, reply: &messages.ModelResult{Changed: true, Sequence: 1}})
	sys.Root.Send(fan, &registered{entry: reg.Entry, fire: []catalogCallback{{Target: callbackTarget{pid: pa}}}})
	require.NoError(t, sys.Root.PoisonFuture(fan).Wait())

	require.EqualValues(t, 1, next(t, a).(*messages.ModelResult).GetSequence(), "the reply despite the crash")
	require.Equal(t, "User", next(t, a).(*messages.ModelRegistered).GetName(), "the next registration's event")
	require.Len(t, crashed, 1)
	require.Equal(t, "*regactor.registered", crashed[0].GetMessageType())
}
