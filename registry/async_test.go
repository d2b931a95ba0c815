package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// host is a user actor for the client.Async tests: it runs the funcs it is sent
// on its own goroutine (so they may call the client.Async helpers with its
// context) and answers pings, counting them in its own state.
type host struct {
	pings int
}

type (
	hostRun  func(c actor.Context)
	hostPing struct{}
)

func (h *host) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case hostRun:
		m(c)
	case hostPing:
		h.pings++
		c.Respond(h.pings)
	}
}

// spawnHost spawns a host and stops it when the test ends.
func spawnHost(t *testing.T, sys *actor.ActorSystem) (*actor.PID, *host) {
	t.Helper()
	h := &host{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return h }))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return pid, h
}

// recv waits for one value from ch.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// none checks that ch has nothing yet.
func none[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s came too early: %v", what, v)
	default:
	}
}

// requireReleased waits until no client.Async reply address is registered: each
// request's own process goes away once it is settled and delivered.
func requireReleased(t *testing.T, sys *actor.ActorSystem) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, m := range sys.ProcessRegistry.LocalPIDs.LocalPIDs {
			for _, k := range m.Keys() {
				if strings.HasPrefix(k, "req$") {
					return false
				}
			}
		}
		return true
	}, 15*time.Second, 10*time.Millisecond, "reply addresses still registered")
}

// gateHook is an on-connect hook that signals when it is entered and waits
// for release; it ignores its context, so a connect stays stuck in it past
// any deadline until the test lets it go.
type gateHook struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGateHook(t *testing.T) *gateHook {
	g := &gateHook{entered: make(chan struct{}, 8), release: make(chan struct{})}
	t.Cleanup(g.open) // before the registry's Close, which would wait for it
	return g
}

func (g *gateHook) hooks() actors.Hooks {
	return actors.Hooks{OnConnect: func(context.Context) error {
		g.entered <- struct{}{}
		<-g.release
		return nil
	}}
}

func (g *gateHook) open() { g.once.Do(func() { close(g.release) }) }

// The actor keeps handling its mailbox while its connect is pending; the
// continuation runs on the actor afterwards, and the count is held.
func TestFromActorKeepsReceiving(t *testing.T) {
	sys := newSystem(t)
	gate := newGateHook(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, registry.WithHooks("", gate.hooks()))
	pid, h := spawnHost(t, sys)

	type result struct {
		err   error
		pings int
		msg   any
	}
	done := make(chan result, 2)
	var call hostRun = func(c actor.Context) {
		client.Async{Registry: reg.PID(), Timeout: 20 * time.Second}.Connect(c, func(err error) {
			// On the actor: its state is ours to read (-race checks it),
			// and the message is again the one that made the call.
			done <- result{err: err, pings: h.pings, msg: c.Message()}
		})
	}
	sys.Root.Send(pid, call)
	recv(t, gate.entered, "the connect to reach the hook")

	const n = 5
	for i := 1; i <= n; i++ {
		res, err := sys.Root.RequestFuture(pid, hostPing{}, 10*time.Second).Result()
		require.NoError(t, err, "ping %d while the connect is pending", i)
		require.Equal(t, i, res)
		none(t, done, "the connect's continuation")
	}
	gate.open()
	r := recv(t, done, "the connect's continuation")
	require.NoError(t, r.err)
	require.Equal(t, n, r.pings, "the continuation ran after the pings, on the actor")
	require.IsType(t, call, r.msg, "c.Message() is restored for the continuation")
	requireCount(t, reg.Database(), 1, true)
	none(t, done, "a second continuation")

	disconnected := make(chan error, 1)
	sys.Root.Send(pid, hostRun(func(c actor.Context) {
		client.Async{Registry: reg.PID(), Timeout: 10 * time.Second}.Disconnect(c, func(err error) { disconnected <- err })
	}))
	require.NoError(t, recv(t, disconnected, "disconnect"))
	requireCount(t, reg.Database(), 0, false)
	requireReleased(t, sys)
}

// The continuation may answer the sender of the message that made the call.
func TestFromActorRespondsToSender(t *testing.T) {
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	pid, _ := spawnHost(t, sys)
	res, err := sys.Root.RequestFuture(pid, hostRun(func(c actor.Context) {
		client.Async{Registry: reg.PID(), Timeout: 10 * time.Second}.ConnectDatabase(c, "", func(opened bool, err error) {
			c.Respond(fmt.Sprintf("opened=%v err=%v", opened, err))
		})
	}), 15*time.Second).Result()
	require.NoError(t, err)
	require.Equal(t, "opened=true err=<nil>", res)
	requireCount(t, reg.Database(), 1, true)
}

type fromResult struct {
	flag bool
	err  error
}

// connectFrom runs Async.ConnectDatabase (or Async.Connect when database is nil)
// in the host and returns the continuation's channel.
func connectFrom(sys *actor.ActorSystem, pid, reg *actor.PID, database *string, timeout time.Duration) chan fromResult {
	ch := make(chan fromResult, 2)
	sys.Root.Send(pid, hostRun(func(c actor.Context) {
		if database == nil {
			client.Async{Registry: reg, Timeout: timeout}.Connect(c, func(err error) { ch <- fromResult{err: err} })
			return
		}
		client.Async{Registry: reg, Timeout: timeout}.ConnectDatabase(c, *database, func(opened bool, err error) { ch <- fromResult{opened, err} })
	}))
	return ch
}

func ptr(s string) *string { return &s }

// Failures are the facade's typed errors.
func TestFromActorTypedErrors(t *testing.T) {
	sys := newSystem(t)
	pid, _ := spawnHost(t, sys)

	t.Run("unreachable", func(t *testing.T) {
		pg := "postgres://u@" + testdb.ClosedPort(t) + "/db?connect_timeout=5"
		reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Extra: map[string]string{"gone": missingDirURL(t), "pg": pg}})

		r := recv(t, connectFrom(sys, pid, reg.PID(), nil, 20*time.Second), "connect")
		var ce *registry.ConnectError
		require.ErrorAs(t, r.err, &ce)
		require.ErrorIs(t, r.err, registry.ErrConnectFailed)
		var names []string
		for _, e := range r.err.(interface{ Unwrap() []error }).Unwrap() {
			require.ErrorAs(t, e, &ce)
			names = append(names, ce.Database)
		}
		require.Equal(t, []string{"gone", "pg"}, names, "every failure, extras by name")
		requireCount(t, reg.Database(), 0, false) // rolled back

		for _, name := range []string{"gone", "pg"} {
			r = recv(t, connectFrom(sys, pid, reg.PID(), ptr(name), 20*time.Second), "connect "+name)
			require.False(t, r.flag)
			require.ErrorAs(t, r.err, &ce)
			require.Equal(t, name, ce.Database)
			require.ErrorIs(t, r.err, registry.ErrConnectFailed)
		}
		r = recv(t, connectFrom(sys, pid, reg.PID(), ptr("nope"), 20*time.Second), "connect nope")
		require.ErrorAs(t, r.err, &ce)
		require.ErrorIs(t, r.err, registry.ErrUnknownDatabase)
	})

	t.Run("timeout", func(t *testing.T) {
		gate := newGateHook(t)
		reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, registry.WithHooks("", gate.hooks()))
		// One database: the registry forwards to its actor, stuck in the
		// hook, so the reply comes only when the hook is let go.
		ch := connectFrom(sys, pid, reg.PID(), ptr(""), 200*time.Millisecond)
		recv(t, gate.entered, "the connect to reach the hook")
		r := recv(t, ch, "the timeout")
		require.False(t, r.flag)
		var ce *registry.ConnectError
		require.ErrorAs(t, r.err, &ce)
		require.ErrorIs(t, r.err, registry.ErrTimeout)
		require.ErrorIs(t, r.err, context.DeadlineExceeded)
		gate.open() // the connect finishes late; nothing may stay counted
		require.Eventually(t, func() bool {
			st, err := reg.Database().Status(testCtx(t))
			return err == nil && st.RefCount == 0 && !st.Connected
		}, 15*time.Second, 10*time.Millisecond)
		none(t, ch, "a second continuation")

		// Every database: the supervisor's fan-out gives up (or the actor's
		// timer does, whichever is first); the same error, nothing held.
		gate = newGateHook(t)
		reg = newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, registry.WithHooks("", gate.hooks()))
		ch = connectFrom(sys, pid, reg.PID(), nil, 200*time.Millisecond)
		recv(t, gate.entered, "the connect to reach the hook")
		r = recv(t, ch, "the timeout")
		require.ErrorIs(t, r.err, registry.ErrTimeout)
		require.ErrorIs(t, r.err, context.DeadlineExceeded)
		gate.open()
		require.Eventually(t, func() bool {
			st, err := reg.Database().Status(testCtx(t))
			return err == nil && st.RefCount == 0 && !st.Connected
		}, 15*time.Second, 10*time.Millisecond)
	})

	t.Run("no registry", func(t *testing.T) {
		gone := actor.NewPID(sys.Address(), "no-such-registry")
		r := recv(t, connectFrom(sys, pid, gone, nil, 5*time.Second), "connect")
		require.ErrorIs(t, r.err, registry.ErrClosed)
		r = recv(t, connectFrom(sys, pid, nil, nil, 5*time.Second), "connect")
		require.ErrorIs(t, r.err, messages.ErrInvalidArgument)
	})

	t.Run("closed", func(t *testing.T) {
		reg, err := registry.New(sys, registry.Config{Database: backends[0].url(t)})
		require.NoError(t, err)
		require.NoError(t, reg.Close(testCtx(t)))
		r := recv(t, connectFrom(sys, pid, reg.PID(), nil, 5*time.Second), "connect")
		require.ErrorIs(t, r.err, registry.ErrClosed)
	})
}

// fakeRegistry stands in for a registry actor: it holds each Connect until
// the test answers it, and reports every Disconnect.
type fakeRegistry struct {
	connects    chan *actor.PID // the reply address of each Connect
	disconnects chan *messages.Disconnect
}

func spawnFake(t *testing.T, sys *actor.ActorSystem) (*actor.PID, *fakeRegistry) {
	f := &fakeRegistry{connects: make(chan *actor.PID, 4), disconnects: make(chan *messages.Disconnect, 4)}
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *messages.Connect:
			require.NotNil(t, m.GetDeadline(), "the timeout travels as the deadline")
			f.connects <- c.Sender()
		case *messages.Disconnect:
			f.disconnects <- m
			c.Respond(&messages.DisconnectResult{})
		}
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return pid, f
}

// A connect that succeeds after the actor gave up is given back.
func TestFromActorLateSuccessUndone(t *testing.T) {
	sys := newSystem(t)
	pid, _ := spawnHost(t, sys)
	fake, f := spawnFake(t, sys)

	ch := connectFrom(sys, pid, fake, ptr("x"), 100*time.Millisecond)
	replyTo := recv(t, f.connects, "the connect")
	r := recv(t, ch, "the timeout")
	require.ErrorIs(t, r.err, registry.ErrTimeout)
	sys.Root.Send(replyTo, &messages.ConnectResult{Opened: true}) // too late
	d := recv(t, f.disconnects, "the disconnect giving the late connect back")
	require.Equal(t, "x", d.GetTarget().GetDatabase())
	require.False(t, d.GetForce())
	none(t, ch, "a second continuation")

	// A late failure needs nothing.
	ch = connectFrom(sys, pid, fake, nil, 100*time.Millisecond)
	replyTo = recv(t, f.connects, "the connect")
	require.ErrorIs(t, recv(t, ch, "the timeout").err, registry.ErrTimeout)
	sys.Root.Send(replyTo, &messages.ConnectResult{Errors: []*messages.Error{{Code: messages.Code_CODE_TIMEOUT}}})
	// A success in time is the actor's to give back: nothing is sent.
	ch = connectFrom(sys, pid, fake, nil, 10*time.Second)
	replyTo = recv(t, f.connects, "the connect")
	sys.Root.Send(replyTo, &messages.ConnectResult{})
	require.NoError(t, recv(t, ch, "the reply").err)
	none(t, f.disconnects, "a disconnect")
	requireReleased(t, sys)
}

// A connect that succeeds after the calling actor stopped is given back too,
// and the stopped actor's continuation does not run.
func TestFromActorStoppedActorUndone(t *testing.T) {
	sys := newSystem(t)
	fake, f := spawnFake(t, sys)
	h := &host{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return h }))
	ch := connectFrom(sys, pid, fake, nil, 10*time.Second)
	replyTo := recv(t, f.connects, "the connect")
	require.NoError(t, sys.Root.StopFuture(pid).Wait())
	sys.Root.Send(replyTo, &messages.ConnectResult{Opened: true})
	d := recv(t, f.disconnects, "the disconnect giving the connect back")
	require.Nil(t, d.GetTarget(), "every database, as the connect was")
	none(t, ch, "the continuation of a stopped actor")
	requireReleased(t, sys)
}

// Schemas from an actor, on both dialects: the facade's errors, counts
// left as they were.
func TestFromActorSchemas(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		sys := newSystem(t)
		reg := newRegistry(t, sys, registry.Config{Database: b.url(t)})
		pid, _ := spawnHost(t, sys)
		schema := func(create bool, name string, opts ...registry.SchemaOption) error {
			ch := make(chan error, 2)
			sys.Root.Send(pid, hostRun(func(c actor.Context) {
				if create {
					client.Async{Registry: reg.PID(), Timeout: 20 * time.Second}.CreateSchema(c, name, func(err error) { ch <- err }, opts...)
				} else {
					client.Async{Registry: reg.PID(), Timeout: 20 * time.Second}.DropSchema(c, name, func(err error) { ch <- err }, opts...)
				}
			}))
			err := recv(t, ch, "the schema call")
			none(t, ch, "a second continuation")
			return err
		}
		const name = "tenant_from_actor"
		require.NoError(t, schema(true, name))
		list, err := reg.Schemas(testCtx(t), "")
		require.NoError(t, err)
		require.Contains(t, list, name)

		err = schema(true, name)
		var se *registry.SchemaError
		require.ErrorAs(t, err, &se)
		require.ErrorIs(t, err, registry.ErrSchema)
		require.Equal(t, "create schema", se.Op)
		require.Equal(t, name, se.Schema)
		if b.name == "postgres" {
			require.Equal(t, "42P06", se.SQLState)
		}
		require.NoError(t, schema(true, name, registry.IfNotExists()))

		require.NoError(t, schema(false, name))
		err = schema(false, name)
		require.ErrorAs(t, err, &se)
		require.ErrorIs(t, err, registry.ErrSchema)
		require.Equal(t, "drop schema", se.Op)
		require.NoError(t, schema(false, name, registry.IfExists()))

		err = schema(true, "")
		require.ErrorIs(t, err, registry.ErrInvalidName)
		require.False(t, errors.As(err, &se), "refused before sending, as the facade does: %v", err)
		require.Equal(t, reg.CreateSchema(testCtx(t), "").Error(), err.Error())
		err = schema(true, name, registry.OnDatabases("nope"))
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		requireCount(t, reg.Database(), 0, false)
	})
}

// A registry spawned with Props as a child of the calling actor: the
// parent connects it without blocking (a blocking call would wait on its
// own child while holding up its mailbox).
func TestFromActorPropsChild(t *testing.T) {
	sys := newSystem(t)
	cfg := registry.Config{Database: backends[0].url(t), Extra: map[string]string{"x": backends[0].url(t)}}
	type step struct {
		what string
		flag bool
		err  error
	}
	steps := make(chan step, 16)
	var child *actor.PID
	parent := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *actor.Started:
			child = c.Spawn(registry.Props(cfg))
			client.Async{Registry: child, Timeout: 10 * time.Second}.Connect(c, func(err error) {
				steps <- step{what: "connect", err: err}
				client.Async{Registry: child, Timeout: 10 * time.Second}.ConnectDatabase(c, "x", func(opened bool, err error) {
					steps <- step{what: "connect x", flag: opened, err: err}
					client.Async{Registry: child, Timeout: 10 * time.Second}.DisconnectDatabase(c, "x", func(closed bool, err error) {
						steps <- step{what: "disconnect x", flag: closed, err: err}
						client.Async{Registry: child, Timeout: 10 * time.Second}.Disconnect(c, func(err error) {
							steps <- step{what: "disconnect", err: err}
						})
					})
				})
			})
		case hostPing:
			c.Respond(child)
		}
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(parent).Wait() })

	for _, want := range []step{{what: "connect"}, {what: "connect x"}, {what: "disconnect x"}, {what: "disconnect"}} {
		got := recv(t, steps, want.what)
		require.NoError(t, got.err, want.what)
		require.Equal(t, want.what, got.what)
		require.False(t, got.flag, "%s: the registry-wide connect holds x", want.what)
	}
	res, err := sys.Root.RequestFuture(parent, hostPing{}, 10*time.Second).Result()
	require.NoError(t, err)
	reg := res.(*actor.PID)
	for _, name := range []string{"", "x"} {
		st, err := sys.Root.RequestFuture(reg, &messages.GetStatus{Target: &messages.Target{Database: name}}, 10*time.Second).Result()
		require.NoError(t, err)
		require.EqualValues(t, 0, st.(*messages.Status).GetRefCount(), "database %q", name)
		require.False(t, st.(*messages.Status).GetConnected(), "database %q", name)
	}
}
