package registry_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
	"github.com/dbactor/dbactor/supervisor"
)

// once arms p to panic with value the first time match accepts a message,
// then never again.
func once(t *testing.T, sys *actor.ActorSystem, p faults.Point, match func(self *actor.PID, msg any) bool, value any) *atomic.Bool {
	var fired atomic.Bool
	disarm := faults.For(sys).Arm(p, func(self *actor.PID, msg any) {
		if match(self, msg) && fired.CompareAndSwap(false, true) {
			panic(value)
		}
	})
	t.Cleanup(disarm)
	return &fired
}

// lockedBuffer is a log sink the actors write from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const crashSecret = "hunter2-crash-secret"

// crashURL is a database URL of backend b carrying crashSecret as its
// password (the shared test server trusts every login, so it connects).
func crashURL(t *testing.T, b backend) string {
	raw := b.url(t)
	if b.name != "postgres" {
		return raw
	}
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), crashSecret)
	return u.String()
}

// TestCrashDatabaseActor panics a database actor while it handles a
// Connect: the caller gets ErrInternal at once, the count and the pool stay,
// the actor is restarted and serves the next request. The panic value
// carries the URL: its password is scrubbed from the reply, the logs and
// the events.
func TestCrashDatabaseActor(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		sys := newSystem(t)
		log, hook := newEventLog(t, sys)
		var logs lockedBuffer
		raw := crashURL(t, b)
		reg := newRegistry(t, sys, registry.Config{Database: raw}, hook,
			registry.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		var supervised []string
		var mu sync.Mutex
		sub := sys.EventStream.Subscribe(func(evt any) {
			if e, ok := evt.(*actor.SupervisorEvent); ok {
				mu.Lock()
				supervised = append(supervised, fmt.Sprint(e.Reason))
				mu.Unlock()
			}
		})
		defer sys.EventStream.Unsubscribe(sub)

		ctx := testCtx(t)
		db := reg.Database()
		_, err := db.Connect(ctx)
		require.NoError(t, err)
		pool := db.DB()

		isConnect := func(self *actor.PID, msg any) bool {
			_, ok := msg.(*messages.Connect)
			return ok && self.Equal(db.PID())
		}
		once(t, sys, faults.DatabaseReceive, isConnect, "bug while connecting to "+raw)
		start := time.Now()
		_, err = db.Connect(ctx)
		require.ErrorIs(t, err, messages.ErrInternal)
		require.Less(t, time.Since(start), 5*time.Second, "an error reply, not a timeout")
		require.NotContains(t, err.Error(), crashSecret)

		crashed := next[*messages.ActorCrashed](t, log.hook, 10*time.Second)
		require.Equal(t, "restart", crashed.GetDirective())
		require.Equal(t, "", crashed.GetDatabase())
		require.Equal(t, "*messages.Connect", crashed.GetMessageType())
		require.Contains(t, crashed.GetReason(), "bug while connecting")
		require.NotContains(t, crashed.GetReason(), crashSecret)

		requireCount(t, db, 1, true)
		require.Same(t, pool, db.DB(), "the pool survived")
		opened, err := db.Connect(ctx)
		require.NoError(t, err, "the restarted actor serves the next request")
		require.False(t, opened)
		requireCount(t, db, 2, true)
		ping(t, db)
		require.NoError(t, reg.Disconnect(ctx))
		require.NoError(t, reg.Disconnect(ctx))
		requireCount(t, db, 0, false)

		require.NotContains(t, logs.String(), crashSecret)
		mu.Lock()
		require.NotEmpty(t, supervised)
		for _, r := range supervised {
			require.NotContains(t, r, crashSecret)
		}
		mu.Unlock()
	})
}

// TestCrashWhileOpening panics the database actor after it opened the pool
// for a 0 → 1 connect: the count goes back to 0 and the pool is closed,
// so no pool is left that no count claims.
func TestCrashWhileOpening(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		sys := newSystem(t)
		reg := newRegistry(t, sys, registry.Config{Database: b.url(t)})
		db := reg.Database()
		once(t, sys, faults.DatabaseOpened, func(self *actor.PID, _ any) bool { return self.Equal(db.PID()) }, "bug after open")
		ctx := testCtx(t)
		_, err := db.Connect(ctx)
		require.ErrorIs(t, err, messages.ErrInternal)
		requireCount(t, db, 0, false)
		opened, err := db.Connect(ctx)
		require.NoError(t, err)
		require.True(t, opened)
		ping(t, db)
		closed, err := db.Disconnect(ctx)
		require.NoError(t, err)
		require.True(t, closed)
	})
}

// TestCrashSupervisor panics the supervisor while it handles a
// registry-wide Connect, then inside its background fan-out: each time the
// caller gets ErrInternal, no count moves, and the next Connect works.
func TestCrashSupervisor(t *testing.T) {
	t.Parallel()
	for _, point := range []faults.Point{faults.SupervisorReceive, faults.SupervisorFanOut, faults.SupervisorConnected} {
		t.Run(string(point), func(t *testing.T) {
			sys := newSystem(t)
			log, hook := newEventLog(t, sys)
			reg := newRegistry(t, sys, registry.Config{
				Database: backends[0].url(t),
				Extra:    map[string]string{"x": backends[0].url(t)},
			}, hook)
			ctx := testCtx(t)
			require.NoError(t, reg.Connect(ctx))
			x, err := reg.Extra("x")
			require.NoError(t, err)

			supervisorPID := actor.NewPID(sys.Address(), reg.PID().GetId()+"/supervisor")
			once(t, sys, point, func(self *actor.PID, msg any) bool {
				if _, ok := msg.([]supervisor.Outcome); ok {
					return true // SupervisorConnected
				}
				c, ok := msg.(*messages.Connect)
				return ok && c.GetTarget() == nil && (self == nil || self.Equal(supervisorPID))
			}, "supervisor bug")
			require.ErrorIs(t, reg.Connect(ctx), messages.ErrInternal)
			crashed := next[*messages.ActorCrashed](t, log.hook, 10*time.Second)
			require.Equal(t, "resume", crashed.GetDirective())
			requireCount(t, reg.Database(), 1, true)
			requireCount(t, x, 1, true)
			require.NoError(t, reg.Connect(ctx), "the supervisor carries on")
			requireCount(t, x, 2, true)
			require.NoError(t, reg.Disconnect(ctx))
			require.NoError(t, reg.Disconnect(ctx))
			requireCount(t, x, 0, false)
		})
	}
}

// TestCrashRegistryActor panics the registry actor while it registers a
// model: the caller gets ErrInternal, the models and callbacks registered
// before survive, and the next registration reaches the callbacks.
func TestCrashRegistryActor(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, hook)
	ctx := testCtx(t)
	_, err := reg.RegisterModel(ctx, User{})
	require.NoError(t, err)
	seen := make(chan string, 8)
	_, err = reg.RegisterCallbackFunc(ctx, "", func(ev *messages.ModelRegistered) { seen <- ev.GetName() }, client.Persistent())
	require.NoError(t, err)
	require.Equal(t, "User", <-seen)
	callbacks := reg.Callbacks()

	once(t, sys, faults.RegistryReceive, func(self *actor.PID, msg any) bool {
		_, ok := msg.(*messages.RegisterModel)
		return ok && self.Equal(reg.PID())
	}, "registry bug")
	_, err = reg.RegisterModel(ctx, Post{})
	require.ErrorIs(t, err, messages.ErrInternal)
	require.Equal(t, "resume", next[*messages.ActorCrashed](t, log.hook, 10*time.Second).GetDirective())

	names := func() []string {
		var out []string
		for _, m := range reg.Models() {
			out = append(out, m.Name())
		}
		return out
	}
	require.Equal(t, []string{"User"}, names(), "models survive")
	require.Equal(t, callbacks, reg.Callbacks(), "callbacks survive")
	_, err = reg.RegisterModel(ctx, Post{})
	require.NoError(t, err)
	require.Equal(t, "Post", <-seen, "the callback still fires")
	require.ElementsMatch(t, []string{"User", "Post"}, names())
}

// TestCrashSchemaJob panics schema work after it connected the database on
// demand: the caller gets ErrInternal and the count is given back.
func TestCrashSchemaJob(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		sys := newSystem(t)
		reg := newRegistry(t, sys, registry.Config{Database: b.url(t)})
		ctx := testCtx(t)
		once(t, sys, faults.SchemaJob, func(_ *actor.PID, msg any) bool { return msg == "" }, "schema bug")
		err := reg.CreateSchema(ctx, "crashy")
		require.ErrorIs(t, err, messages.ErrInternal)
		require.True(t, strings.Contains(err.Error(), "schema bug"), err.Error())
		requireCount(t, reg.Database(), 0, false)
		require.NoError(t, reg.CreateSchema(ctx, "crashy"))
		schemas, err := reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.Contains(t, schemas, "crashy")
		requireCount(t, reg.Database(), 0, false)
	})
}

// TestCrashSupervisorDisconnectKeepsHold crashes a registry-wide Disconnect
// before it disconnected anything: what the registry holds on a database
// shared from another registry is still given back by its Close.
func TestCrashSupervisorDisconnectKeepsHold(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	owner := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	borrower, err := registry.New(sys, registry.Config{Database: backends[0].url(t)},
		registry.WithExtraDatabase("shared", owner.Database()))
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, borrower.Connect(ctx))
	requireCount(t, owner.Database(), 1, true)

	once(t, sys, faults.SupervisorFanOut, func(_ *actor.PID, msg any) bool {
		_, ok := msg.(*messages.Disconnect)
		return ok
	}, "disconnect bug")
	require.ErrorIs(t, borrower.Disconnect(ctx), messages.ErrInternal)
	requireCount(t, owner.Database(), 1, true)
	require.NoError(t, borrower.Close(ctx))
	requireCount(t, owner.Database(), 0, false)
}

// TestCrashOnLifecycleMessage: a bug that fires on every restart must not
// restart the actor forever (its mailbox suspended): the crash is reported
// and the actor serves on.
func TestCrashOnLifecycleMessage(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, hook)
	db := reg.Database()
	var restarts atomic.Int32
	disarm := faults.For(sys).Arm(faults.DatabaseReceive, func(self *actor.PID, msg any) {
		if !self.Equal(db.PID()) {
			return
		}
		switch msg.(type) {
		case *actor.Restarting:
			restarts.Add(1)
			panic("bug in every restart")
		case *messages.Connect:
			panic("bug in connect")
		}
	})
	ctx := testCtx(t)
	defer disarm()
	_, err := db.Connect(ctx)
	require.ErrorIs(t, err, messages.ErrInternal)
	require.Equal(t, "restart", next[*messages.ActorCrashed](t, log.hook, 10*time.Second).GetDirective())
	ignored := next[*messages.ActorCrashed](t, log.hook, 10*time.Second)
	require.Equal(t, "ignored", ignored.GetDirective())
	require.Equal(t, "*actor.Restarting", ignored.GetMessageType())
	requireCount(t, db, 0, false) // Connect passes; only a Connect panics
	disarm()
	opened, err := db.Connect(ctx)
	require.NoError(t, err)
	require.True(t, opened)
	require.Equal(t, int32(1), restarts.Load(), "one restart, no loop")
	require.NoError(t, reg.Disconnect(ctx))
}

// TestCrashWhileClosing: a database actor that crashes on Close still lets
// the registry's Close finish without waiting out its timeout.
func TestCrashWhileClosing(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	reg, err := registry.New(sys, registry.Config{Database: backends[0].url(t), Timeout: 5 * time.Second})
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	db := reg.Database()
	once(t, sys, faults.DatabaseReceive, func(self *actor.PID, msg any) bool {
		_, ok := msg.(*inproc.CloseDatabase)
		return ok && self.Equal(db.PID())
	}, "bug in close")
	start := time.Now()
	require.NoError(t, reg.Close(ctx))
	require.Less(t, time.Since(start), 4*time.Second)
	require.Nil(t, db.DB())
}

// A connect that crashes after opening is told as a failed connect.
func TestCrashWhileOpeningEvents(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, hook)
	db := reg.Database()
	once(t, sys, faults.DatabaseOpened, func(self *actor.PID, _ any) bool { return self.Equal(db.PID()) }, "bug after open")
	_, err := db.Connect(testCtx(t))
	require.ErrorIs(t, err, messages.ErrInternal)
	next[*messages.DatabaseConnecting](t, log.hook, 10*time.Second)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-log.hook:
			switch ev := ev.(type) {
			case *messages.DatabaseConnected:
				t.Fatal("a crashed connect is no DatabaseConnected")
			case *messages.DatabaseConnectFailed:
				require.ErrorIs(t, ev.GetError(), messages.ErrInternal)
				return
			}
		case <-deadline:
			t.Fatal("no DatabaseConnectFailed")
		}
	}
}
