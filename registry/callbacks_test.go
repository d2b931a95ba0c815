package registry_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// recorder is a user's callback actor: it records the events it receives.
type recorder struct {
	mu     sync.Mutex
	events []*messages.ModelRegistered
	got    chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1<<16)} }

func (r *recorder) props() *actor.Props {
	return actor.PropsFromFunc(func(c actor.Context) {
		if ev, ok := c.Message().(*messages.ModelRegistered); ok {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
			r.got <- struct{}{}
		}
	})
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, e := range r.events {
		out = append(out, e.GetName())
	}
	return out
}

// wait blocks until n events have arrived in all.
func (r *recorder) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		have := len(r.events)
		r.mu.Unlock()
		if have >= n {
			return
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("waited for %d events, have %d", n, have)
		}
	}
}

// model registers an empty model called name.
func model(t *testing.T, reg *registry.Registry, name string) {
	t.Helper()
	_, err := reg.RegisterModel(testCtx(t), User{}, models.Name(name))
	require.NoError(t, err)
}

// Spec §1.11 K1–K4 end to end: the order in which one registration reaches
// the callbacks. One actor collects every event, tagged by callback, so the
// order across callbacks is the mailbox order the registry sent them in.
func TestCallbackOrderAcrossActors(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})

	var mu sync.Mutex
	var order []string
	done := make(chan struct{}, 64)
	tag := func(label string) *actor.PID {
		return sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if ev, ok := c.Message().(*messages.ModelRegistered); ok {
				mu.Lock()
				order = append(order, label+":"+ev.GetName())
				mu.Unlock()
				done <- struct{}{}
			}
		}))
	}
	for _, cb := range []struct {
		label string
		model string
		opts  []client.CallbackOption
	}{
		{"pg1", "", nil},
		{"pn1", "User", []client.CallbackOption{client.Persistent()}},
		{"og1", "", []client.CallbackOption{client.OneTime()}},
		{"on1", "User", nil},
		{"pg2", "", nil},
		{"on2", "User", nil},
		{"og2", "", []client.CallbackOption{client.OneTime()}},
		{"pn2", "User", []client.CallbackOption{client.Persistent()}},
	} {
		require.NoError(t, reg.RegisterCallback(ctx, cb.model, tag(cb.label), cb.opts...))
	}
	model(t, reg, "User")
	for range 8 {
		<-done
	}
	model(t, reg, "Other")
	for range 2 {
		<-done
	}
	// Separate actors run concurrently, so which callbacks fired is
	// compared as a set; the exact K4 sequence is table-tested in
	// internal/catalog (the registry sends in that order).
	require.ElementsMatch(t, []string{"on2:User", "on1:User", "og2:User", "og1:User", "pn1:User", "pn2:User", "pg1:User", "pg2:User", "pg1:Other", "pg2:Other"}, order)
}

// One actor subscribed several ways sees its events in K4 order.
func TestCallbackOrderOneActor(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	rec := newRecorder()
	pid := sys.Root.Spawn(rec.props())
	// A registration fires one event per matching callback; the actor sees
	// them in K4 order. Schema field tells them apart: none; so count them.
	require.NoError(t, reg.RegisterCallback(ctx, "", pid))                          // persistent general
	require.NoError(t, reg.RegisterCallback(ctx, "User", pid, client.Persistent())) // persistent named
	require.NoError(t, reg.RegisterCallback(ctx, "User", pid))                      // one-time named
	model(t, reg, "User")
	rec.wait(t, 3)
	model(t, reg, "Other")
	rec.wait(t, 4)
	require.Equal(t, []string{"User", "User", "User", "Other"}, rec.names())
	// K2: a persistent general callback fires at once for existing models,
	// in registration order; a one-time named one for a registered model
	// fires at once and is not kept.
	rec2 := newRecorder()
	pid2 := sys.Root.Spawn(rec2.props())
	require.NoError(t, reg.RegisterCallback(ctx, "", pid2))
	rec2.wait(t, 2)
	require.Equal(t, []string{"User", "Other"}, rec2.names())
	require.NoError(t, reg.RegisterCallback(ctx, "Other", pid2))
	rec2.wait(t, 3)
	model(t, reg, "Third")
	rec2.wait(t, 4)
	require.Equal(t, []string{"User", "Other", "Other", "Third"}, rec2.names())
	ev := rec2.events[3]
	require.Equal(t, "thirds", ev.GetTable(), "Edgy's default table name, from the model name")
	require.Greater(t, ev.GetSequence(), rec2.events[0].GetSequence())
}

// 8 callback actors, 1 000 models registered from 1 000 goroutines: each
// actor gets every event exactly once, all in the same order, the
// registry's order of registrations.
func TestCallbacksUnderConcurrentRegistration(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	const actors, nmodels = 8, 1000
	recs := make([]*recorder, actors)
	for i := range recs {
		recs[i] = newRecorder()
		require.NoError(t, reg.RegisterCallback(ctx, "", sys.Root.Spawn(recs[i].props())))
	}
	var wg sync.WaitGroup
	for i := range nmodels {
		wg.Go(func() {
			m, err := reg.RegisterModel(ctx, User{}, models.Name(fmt.Sprintf("M%04d", i)))
			assert.NoError(t, err)
			assert.NotNil(t, m)
		})
	}
	wg.Wait()
	for _, r := range recs {
		r.wait(t, nmodels)
	}
	want := recs[0].events
	require.Len(t, want, nmodels)
	seen := map[string]bool{}
	for i, ev := range want {
		require.False(t, seen[ev.GetName()], "duplicate %s", ev.GetName())
		seen[ev.GetName()] = true
		if i > 0 {
			require.Greater(t, ev.GetSequence(), want[i-1].GetSequence(), "events arrive in registration order")
		}
	}
	for _, r := range recs[1:] {
		require.Equal(t, recs[0].names(), r.names())
	}
}

// A callback actor made from a func that panics is restarted; the registry
// and other callbacks carry on.
func TestPanickingCallback(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	restarts := make(chan *actor.SupervisorEvent, 8)
	sub := sys.EventStream.Subscribe(func(ev any) {
		if se, ok := ev.(*actor.SupervisorEvent); ok {
			restarts <- se
		}
	})
	defer sys.EventStream.Unsubscribe(sub)

	var mu sync.Mutex
	var seen []string
	got := make(chan struct{}, 16)
	bad, err := reg.RegisterCallbackFunc(ctx, "", func(ev *messages.ModelRegistered) {
		if ev.GetName() == "Boom" {
			panic("callback bug")
		}
		mu.Lock()
		seen = append(seen, ev.GetName())
		mu.Unlock()
		got <- struct{}{}
	})
	require.NoError(t, err)
	rec := newRecorder()
	require.NoError(t, reg.RegisterCallback(ctx, "", sys.Root.Spawn(rec.props())))

	model(t, reg, "Before")
	model(t, reg, "Boom")
	model(t, reg, "After")
	rec.wait(t, 3)
	require.Equal(t, []string{"Before", "Boom", "After"}, rec.names(), "the other callback noticed nothing")
	<-got
	<-got
	mu.Lock()
	require.Equal(t, []string{"Before", "After"}, seen, "the crashing event is lost, the next one arrives")
	mu.Unlock()
	se := <-restarts
	require.Equal(t, actor.RestartDirective, se.Directive)
	require.True(t, se.Child.Equal(bad))
	// The registry still works.
	_, err = reg.Model("After")
	require.NoError(t, err)
	require.NoError(t, reg.Connect(ctx))
	require.NoError(t, reg.Disconnect(ctx))
}

// A stopped callback actor is dropped: no dead letters for it afterwards.
func TestStoppedCallbackDropped(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	rec := newRecorder()
	pid := sys.Root.Spawn(rec.props())
	require.NoError(t, reg.RegisterCallback(ctx, "", pid))
	require.NoError(t, reg.RegisterCallback(ctx, "Later", pid, client.Persistent()))
	require.Equal(t, 2, reg.Callbacks())
	model(t, reg, "First")
	rec.wait(t, 1)

	require.NoError(t, sys.Root.StopFuture(pid).Wait())
	require.Eventually(t, func() bool { return reg.Callbacks() == 0 }, 10*time.Second, time.Millisecond,
		"the registry drops the callbacks of a stopped actor")

	var mu sync.Mutex
	dead := 0
	sub := sys.EventStream.Subscribe(func(ev any) {
		if d, ok := ev.(*actor.DeadLetterEvent); ok && d.PID.Equal(pid) {
			mu.Lock()
			dead++
			mu.Unlock()
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	for i := range 100 {
		model(t, reg, fmt.Sprintf("After%d", i))
	}
	model(t, reg, "Later")
	// A round trip through the registry after the registrations: any send
	// to the dead actor happened before it.
	require.NoError(t, reg.Connect(ctx))
	require.NoError(t, reg.Disconnect(ctx))
	mu.Lock()
	require.Zero(t, dead)
	mu.Unlock()
	require.Equal(t, []string{"First"}, rec.names())

	// A local PID that does not exist (any more): refused, nothing stored.
	require.ErrorIs(t, reg.RegisterCallback(ctx, "", actor.NewPID(sys.Address(), "no-such-actor")), messages.ErrInvalidArgument)
	require.ErrorIs(t, reg.RegisterCallback(ctx, "", pid), messages.ErrInvalidArgument)
	require.Zero(t, reg.Callbacks())
}

func TestCallbackFuncOneTimeStops(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	got := make(chan string, 4)
	pid, err := reg.RegisterCallbackFunc(ctx, "User", func(ev *messages.ModelRegistered) { got <- ev.GetName() })
	require.NoError(t, err)
	stopped := make(chan struct{})
	watcher := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actor.Started:
			c.Watch(pid)
		case *actor.Terminated:
			if m.Who.Equal(pid) {
				close(stopped)
			}
		}
	}))
	defer sys.Root.Stop(watcher)
	model(t, reg, "User")
	require.Equal(t, "User", <-got)
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("the one-time callback actor did not stop after firing")
	}
	require.Zero(t, reg.Callbacks())

	_, err = reg.RegisterCallbackFunc(ctx, "", nil)
	require.ErrorIs(t, err, messages.ErrInvalidArgument)
	require.ErrorIs(t, reg.RegisterCallback(ctx, "", nil), messages.ErrInvalidArgument)
}

// Raw messages with missing fields get typed replies.
func TestCallbackMessages(t *testing.T) {
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	res, err := sys.Root.RequestFuture(reg.PID(), &messages.RegisterCallback{Model: "User"}, 5*time.Second).Result()
	require.NoError(t, err)
	require.ErrorIs(t, res.(*messages.CallbackResult).GetError(), messages.ErrInvalidArgument)
	res, err = sys.Root.RequestFuture(reg.PID(), &messages.RegisterModel{}, 5*time.Second).Result()
	require.NoError(t, err)
	require.ErrorIs(t, res.(*messages.ModelResult).GetError(), messages.ErrInvalidArgument)
}

// A reply to a model request comes after the events of every request
// before it, for an actor that is both a callback and the requester: the
// registry hands events to its fan-out actor, and its replies to model
// requests follow them there.
func TestRepliesFollowEvents(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: "sqlite:///:memory:"})
	const n = 200
	var defs []*messages.ModelDef
	for i := range n {
		def, err := models.FromStruct(User{}, models.Name(fmt.Sprintf("Order%03d", i)))
		require.NoError(t, err)
		defs = append(defs, def)
	}
	seen := make(chan string, 3*n)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *messages.ModelRegistered:
			seen <- "event " + m.GetName()
		case *messages.ModelResult:
			seen <- fmt.Sprintf("result %s changed=%t", m.GetModel().GetName(), m.GetChanged())
		case string: // go: register them all, then one kept
			for _, def := range defs {
				c.Request(reg.PID(), &messages.RegisterModel{Model: def})
			}
			c.Request(reg.PID(), &messages.RegisterModel{Model: defs[0], OnConflict: messages.OnConflict_ON_CONFLICT_KEEP})
		}
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	require.NoError(t, reg.RegisterCallback(ctx, "", pid, client.Persistent()))
	sys.Root.Send(pid, "go")

	var got []string
	for len(got) < 2*n+1 {
		select {
		case s := <-seen:
			got = append(got, s)
		case <-ctx.Done():
			t.Fatalf("have %d of %d messages", len(got), 2*n+1)
		}
	}
	for i, def := range defs {
		require.Equal(t, "event "+def.GetName(), got[2*i], "the event before its reply")
		require.Equal(t, "result "+def.GetName()+" changed=true", got[2*i+1])
	}
	require.Equal(t, "result Order000 changed=false", got[2*n], "the kept one's reply after every event before it")
}

// Refusals keep the order too: an actor that keeps requests in flight while
// the registry closes gets every reply and event of the requests before the
// Close before the first refusal (a refusal goes through the fan-out like
// any reply to a model request).
func TestRefusalsFollowReplies(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg, err := registry.New(sys, registry.Config{Database: "sqlite:///:memory:"})
	require.NoError(t, err)
	const window = 64
	seen := make(chan string, 1<<16)
	var next int
	send := func(c actor.Context) {
		def, err := models.FromStruct(User{}, models.Name(fmt.Sprintf("Item%06d", next)))
		if err != nil {
			panic(err)
		}
		next++
		c.Request(reg.PID(), &messages.RegisterModel{Model: def})
	}
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			for range window {
				send(c)
			}
		case *messages.ModelRegistered:
			seen <- "event"
		case *messages.ModelResult:
			if m.GetError() != nil {
				seen <- "refused " + m.GetError().GetCode().String()
				return // no more
			}
			seen <- "ok"
			send(c)
		}
	}))
	require.NoError(t, reg.RegisterCallback(ctx, "", pid, client.Persistent()))
	sys.Root.Send(pid, "go")

	var got []string
	for oks := 0; oks < 200; { // well under way
		select {
		case s := <-seen:
			got = append(got, s)
			if s == "ok" {
				oks++
			}
		case <-ctx.Done():
			t.Fatalf("have %d messages", len(got))
		}
	}
	require.NoError(t, reg.Close(ctx)) // the fan-out has sent everything when it returns
	require.NoError(t, sys.Root.PoisonFuture(pid).Wait())
	close(seen)
	for s := range seen {
		got = append(got, s)
	}
	first := slices.IndexFunc(got, func(s string) bool { return strings.HasPrefix(s, "refused") })
	require.GreaterOrEqual(t, first, 0, "the requests after the Close are refused")
	for i, s := range got[first:] {
		require.True(t, strings.HasPrefix(s, "refused"), "message %d after the first refusal is %q", first+i, s)
	}
}
