package registry_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// The message API from the root context: the registry answers Connect,
// Disconnect, GetStatus and ListDatabases.
func TestMessageAPIFromRoot(t *testing.T) {
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Extra: map[string]string{"x": backends[0].url(t)}})
	req := func(msg any) any {
		t.Helper()
		res, err := sys.Root.RequestFuture(reg.PID(), msg, 10*time.Second).Result()
		require.NoError(t, err)
		return res
	}

	r := req(&messages.Connect{}).(*messages.ConnectResult)
	require.Empty(t, r.GetErrors())
	require.True(t, r.GetOpened())

	st := req(&messages.GetStatus{Target: &messages.Target{Database: "x"}}).(*messages.Status)
	require.Nil(t, st.GetError())
	require.True(t, st.GetConnected())
	require.EqualValues(t, 1, st.GetRefCount())
	require.Equal(t, "sqlite", st.GetDialect())

	main := req(&messages.GetStatus{}).(*messages.Status)
	require.Equal(t, "", main.GetDatabase())
	require.EqualValues(t, 1, main.GetRefCount())

	list := req(&messages.ListDatabases{}).(*messages.DatabaseList)
	require.Len(t, list.GetDatabases(), 2)
	require.Equal(t, "x", list.GetDatabases()[1].GetDatabase())

	// One database through the registry.
	r = req(&messages.Connect{Target: &messages.Target{Database: "x"}}).(*messages.ConnectResult)
	require.Empty(t, r.GetErrors())
	require.False(t, r.GetOpened())
	x, _ := reg.Extra("x")
	requireCount(t, x, 2, true)

	unknown := req(&messages.Connect{Target: &messages.Target{Database: "nope"}}).(*messages.ConnectResult)
	require.Len(t, unknown.GetErrors(), 1)
	require.ErrorIs(t, unknown.GetErrors()[0], registry.ErrUnknownDatabase)
	st = req(&messages.GetStatus{Target: &messages.Target{Database: "nope"}}).(*messages.Status)
	require.ErrorIs(t, st.GetError(), registry.ErrUnknownDatabase)

	d := req(&messages.Disconnect{Target: &messages.Target{Database: "x"}}).(*messages.DisconnectResult)
	require.Empty(t, d.GetErrors())
	d = req(&messages.Disconnect{}).(*messages.DisconnectResult)
	require.Empty(t, d.GetErrors())
	require.True(t, d.GetClosed())
	requireCount(t, x, 0, false)
	requireCount(t, reg.Database(), 0, false)

	// A request straight to a database actor.
	r = req(&messages.Connect{}).(*messages.ConnectResult) // registry-wide again
	require.Empty(t, r.GetErrors())
	dr, err := sys.Root.RequestFuture(x.PID(), &messages.Disconnect{Force: true}, 10*time.Second).Result()
	require.NoError(t, err)
	require.True(t, dr.(*messages.DisconnectResult).GetClosed())
	requireCount(t, x, 0, false)
}

// caller is a user actor that connects the registry by message while it
// keeps serving other messages: it never blocks its Receive.
type caller struct {
	registry *actor.PID
	result   chan *messages.ConnectResult
	pongs    chan struct{}
}

type (
	goConnect struct{}
	pingMsg   struct{}
)

func (c *caller) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case goConnect:
		ctx.Request(c.registry, &messages.Connect{})
	case pingMsg:
		c.pongs <- struct{}{}
	case *messages.ConnectResult:
		c.result <- m
	}
}

func TestMessageAPIFromActor(t *testing.T) {
	sys := newSystem(t)
	block := make(chan struct{})
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, registry.WithHooks("", actors.Hooks{
		OnConnect: func(ctx context.Context) error {
			select { // the connect stays under way until the test lets it go
			case <-block:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}))
	c := &caller{registry: reg.PID(), result: make(chan *messages.ConnectResult, 1), pongs: make(chan struct{}, 1)}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return c }))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })

	sys.Root.Send(pid, goConnect{})
	// While the connect waits in the hook, the actor still answers.
	sys.Root.Send(pid, pingMsg{})
	select {
	case <-c.pongs:
	case <-time.After(10 * time.Second):
		t.Fatal("the actor blocked while its connect was under way")
	}
	select {
	case <-c.result:
		t.Fatal("connect finished before the hook was released")
	default:
	}
	close(block)
	select {
	case r := <-c.result:
		require.Empty(t, r.GetErrors())
		require.True(t, r.GetOpened())
	case <-time.After(10 * time.Second):
		t.Fatal("no ConnectResult")
	}
	requireCount(t, reg.Database(), 1, true)
}

// A panic in a database actor restarts it without losing its pool or count.
func TestDatabaseActorPanicKeepsPoolAndCount(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		sys := newSystem(t)
		reg := newRegistry(t, sys, registry.Config{Database: b.url(t)})
		db := reg.Database()
		_, err := db.Connect(ctx)
		require.NoError(t, err)
		_, err = db.Connect(ctx)
		require.NoError(t, err)
		pool := db.DB()

		restarted := make(chan struct{}, 8)
		sub := sys.EventStream.Subscribe(func(evt any) {
			if e, ok := evt.(*actor.SupervisorEvent); ok && e.Child.Equal(db.PID()) && e.Directive == actor.RestartDirective {
				restarted <- struct{}{}
			}
		})
		defer sys.EventStream.Unsubscribe(sub)

		for range 3 {
			sys.Root.Send(db.PID(), &faults.Panic{Value: "injected bug"})
			select {
			case <-restarted:
			case <-time.After(10 * time.Second):
				t.Fatal("no restart after the panic")
			}
		}
		requireCount(t, db, 2, true)
		require.Same(t, pool, db.DB(), "the pool survived the restarts")
		ping(t, db)
		_, err = db.Disconnect(ctx)
		require.NoError(t, err)
		closed, err := db.Disconnect(ctx)
		require.NoError(t, err)
		require.True(t, closed)
	})
}

// Props embeds the registry in the user's own actor tree; a bad
// configuration answers every request with an error instead of panicking.
func TestPropsEmbedding(t *testing.T) {
	sys := newSystem(t)
	pid := sys.Root.Spawn(registry.Props(registry.Config{Database: backends[0].url(t)}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	res, err := sys.Root.RequestFuture(pid, &messages.Connect{}, 10*time.Second).Result()
	require.NoError(t, err)
	require.Empty(t, res.(*messages.ConnectResult).GetErrors())
	st, err := sys.Root.RequestFuture(pid, &messages.GetStatus{}, 10*time.Second).Result()
	require.NoError(t, err)
	require.True(t, st.(*messages.Status).GetConnected())

	bad := sys.Root.Spawn(registry.Props(registry.Config{Database: "nope://"}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(bad).Wait() })
	res, err = sys.Root.RequestFuture(bad, &messages.Connect{}, 10*time.Second).Result()
	require.NoError(t, err)
	errs := res.(*messages.ConnectResult).GetErrors()
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], registry.ErrInvalidConfig)
}

// A database actor that keeps panicking is restarted every time, on the
// same State: there is no budget after which it would stop (a stopping
// actor drops its queued requests), and pool and count survive.
func TestDatabaseActorRestartsWithoutBudget(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	db := reg.Database()
	_, err := db.Connect(ctx)
	require.NoError(t, err)
	pool := db.DB()

	restarts := make(chan struct{}, 32)
	sub := sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.SupervisorEvent); ok && e.Child.Equal(db.PID()) && e.Directive == actor.RestartDirective {
			restarts <- struct{}{}
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	for range 25 {
		sys.Root.Send(db.PID(), &faults.Panic{Value: "injected bug"})
	}
	for range 25 {
		select {
		case <-restarts:
		case <-ctx.Done():
			t.Fatal("a panic was not followed by a restart")
		}
	}
	requireCount(t, db, 1, true)
	require.Same(t, pool, db.DB())
	ping(t, db)
}

// A panic in the supervisor or in the registry actor resumes it: the
// database actors below it, their pools and counts are untouched, and the
// request that crashed it gets an error reply instead of a timeout.
func TestSupervisorAndRegistryPanicKeepPools(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"supervisor", "registry"} {
		t.Run(target, func(t *testing.T) {
			ctx := testCtx(t)
			sys := newSystem(t)
			reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Extra: map[string]string{"x": backends[0].url(t)}})
			require.NoError(t, reg.Connect(ctx))
			require.NoError(t, reg.Connect(ctx))
			pool := reg.Database().DB()

			pid := reg.PID()
			if target == "supervisor" {
				pid = actor.NewPID(sys.Address(), reg.PID().GetId()+"/supervisor")
			}
			resumed := make(chan struct{}, 1)
			sub := sys.EventStream.Subscribe(func(evt any) {
				if e, ok := evt.(*actor.SupervisorEvent); ok && e.Child.Equal(pid) && e.Directive == actor.ResumeDirective {
					resumed <- struct{}{}
				}
			})
			defer sys.EventStream.Unsubscribe(sub)
			sys.Root.Send(pid, &faults.Panic{Value: "injected bug"})
			select {
			case <-resumed:
			case <-ctx.Done():
				t.Fatal("no resume")
			}
			for _, db := range reg.Databases() {
				requireCount(t, db, 2, true)
			}
			require.Same(t, pool, reg.Database().DB())
			require.NoError(t, reg.Disconnect(ctx))
			require.NoError(t, reg.Disconnect(ctx))
			for _, db := range reg.Databases() {
				requireCount(t, db, 0, false)
			}
		})
	}
}

// On a system without a fault injector (as in production) a faults.Panic
// is an unknown message to every actor: nothing crashes, the registry and
// the database actor answer it as any message they do not handle, and the
// supervisor ignores it.
func TestPanicMessageWithoutInjector(t *testing.T) {
	t.Parallel()
	sys := registry.NewActorSystem(nil)
	t.Cleanup(sys.Shutdown)
	require.Nil(t, faults.For(sys))
	var crashes atomic.Int32
	sub := sys.EventStream.Subscribe(func(evt any) {
		if _, ok := evt.(*actor.SupervisorEvent); ok {
			crashes.Add(1)
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	db := reg.Database()
	pool := db.DB()

	bug := &faults.Panic{Value: "must not fire"}
	for _, pid := range []*actor.PID{reg.PID(), db.PID()} {
		res, err := sys.Root.RequestFuture(pid, bug, 10*time.Second).Result()
		require.NoError(t, err)
		e := res.(*messages.Status).GetError()
		require.ErrorIs(t, e, messages.ErrInvalidArgument)
		require.Contains(t, e.GetMessage(), "*faults.Panic")
	}
	// The supervisor answers none; the request after it finds it serving.
	sup := actor.NewPID(sys.Address(), reg.PID().GetId()+"/supervisor")
	sys.Root.Send(sup, bug)
	res, err := sys.Root.RequestFuture(sup, &messages.GetStatus{}, 10*time.Second).Result()
	require.NoError(t, err)
	require.Nil(t, res.(*messages.Status).GetError())
	require.True(t, res.(*messages.Status).GetConnected())
	requireCount(t, db, 1, true)
	require.Same(t, pool, db.DB())
	require.Zero(t, crashes.Load(), "no actor crashed")
	require.NoError(t, reg.Disconnect(ctx))
}

// Props spawned again under the same name once their registry stopped run
// a live registry again: its replies are its own, not the stopped one's
// drain ("registry stopped"), and its fan-out is its own.
func TestPropsSpawnedAgain(t *testing.T) {
	sys := newSystem(t)
	props := registry.Props(registry.Config{Database: "sqlite:///:memory:"})
	register := func(pid *actor.PID, name string) {
		t.Helper()
		def, err := models.FromStruct(User{}, models.Name(name))
		require.NoError(t, err)
		res, err := sys.Root.RequestFuture(pid, &messages.RegisterModel{Model: def}, 10*time.Second).Result()
		require.NoError(t, err)
		require.Nil(t, res.(*messages.ModelResult).GetError(), "%s", name)
		require.Equal(t, name, res.(*messages.ModelResult).GetModel().GetName())
	}
	pid, err := sys.Root.SpawnNamed(props, "again")
	require.NoError(t, err)
	register(pid, "A")
	require.NoError(t, sys.Root.StopFuture(pid).Wait())
	for i := range 3 { // the models stay with the props: new names
		pid, err = sys.Root.SpawnNamed(props, "again")
		require.NoError(t, err)
		register(pid, fmt.Sprintf("B%d", i))
		register(pid, fmt.Sprintf("C%d", i))
		require.NoError(t, sys.Root.StopFuture(pid).Wait())
	}
}
