package registry_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// eventLog collects the events of one registry from its hook and, separately,
// from the actor system's EventStream, so a test waits on them in order.
type eventLog struct {
	hook   chan messages.Event
	stream chan messages.Event
}

func newEventLog(t *testing.T, sys *actor.ActorSystem) (*eventLog, registry.Option) {
	l := &eventLog{hook: make(chan messages.Event, 1024), stream: make(chan messages.Event, 1024)}
	sub := sys.EventStream.Subscribe(func(evt any) {
		if ev, ok := evt.(messages.Event); ok {
			select {
			case l.stream <- ev:
			default:
			}
		}
	})
	t.Cleanup(func() { sys.EventStream.Unsubscribe(sub) })
	return l, registry.WithEventHook(func(ev messages.Event) {
		select {
		case l.hook <- ev:
		default:
		}
	})
}

// next waits for the next hook event of type E, skipping others.
func next[E messages.Event](t *testing.T, ch chan messages.Event, within time.Duration) E {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-ch:
			if e, ok := ev.(E); ok {
				return e
			}
		case <-deadline:
			var zero E
			t.Fatalf("no %T within %s", zero, within)
			return zero
		}
	}
}

// failPings makes the health pings of the database actor pid fail while
// failing is set.
func failPings(t *testing.T, sys *actor.ActorSystem, pid func() *actor.PID, failing *atomic.Bool) {
	disarm := faults.For(sys).Arm(faults.HealthPing, func(self *actor.PID, _ any) {
		if failing.Load() && self.Equal(pid()) {
			panic("injected: server unreachable")
		}
	})
	t.Cleanup(disarm)
}

func TestHealthDownAndUp(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	health := actors.HealthOptions{Interval: 20 * time.Millisecond, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond}
	reg := newRegistry(t, sys, registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"other": backends[0].url(t)},
		Health:   health,
	}, hook)
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	db := reg.Database()
	other, err := reg.Extra("other")
	require.NoError(t, err)
	_, err = db.Connect(ctx)
	require.NoError(t, err)
	pool := db.DB()

	st := status(t, db)
	require.Equal(t, client.Healthy, st.Health)
	require.False(t, st.Since.IsZero())
	require.NoError(t, st.LastError)

	var failing atomic.Bool
	failing.Store(true)
	failPings(t, sys, db.PID, &failing)

	down := next[*messages.DatabaseDown](t, log.hook, 10*time.Second)
	require.Equal(t, "", down.GetDatabase())
	require.ErrorIs(t, down.GetError(), registry.ErrConnectFailed)
	require.Contains(t, down.GetError().GetMessage(), "injected: server unreachable")
	streamed := next[*messages.DatabaseDown](t, log.stream, 10*time.Second)
	require.Equal(t, down.GetSince().AsTime(), streamed.GetSince().AsTime(), "EventStream and hook see the same event")

	// Probes back off within [min, max].
	for i := range 4 {
		p := next[*messages.DatabaseProbeFailed](t, log.hook, 10*time.Second)
		require.Equal(t, uint32(i+1), p.GetAttempt())
		require.GreaterOrEqual(t, p.GetNextProbeMs(), int64(10))
		require.LessOrEqual(t, p.GetNextProbeMs(), int64(40))
	}
	st = status(t, db)
	require.Equal(t, client.Degraded, st.Health)
	require.ErrorIs(t, st.LastError, registry.ErrConnectFailed)
	require.GreaterOrEqual(t, st.FailedProbes, 4)
	require.Equal(t, 2, st.RefCount, "an outage changes no count")
	require.True(t, st.Connected)
	require.Same(t, pool, db.DB(), "nor the pool")
	require.Equal(t, client.Healthy, status(t, other).Health, "the other database is not affected")

	failing.Store(false)
	up := next[*messages.DatabaseUp](t, log.hook, 10*time.Second)
	require.Equal(t, down.GetSince().AsTime(), up.GetDownSince().AsTime())
	require.GreaterOrEqual(t, up.GetFailedProbes(), uint32(4))
	st = status(t, db)
	require.Equal(t, client.Healthy, st.Health)
	require.NoError(t, st.LastError)
	require.Equal(t, 0, st.FailedProbes)
	require.Equal(t, 2, st.RefCount)
	require.Same(t, pool, db.DB())
	ping(t, db)

	_, err = db.Disconnect(ctx)
	require.NoError(t, err)
	require.NoError(t, reg.Disconnect(ctx))
	st = status(t, db)
	require.Equal(t, client.HealthUnknown, st.Health, "not connected: nothing is checked")
	require.True(t, st.Since.IsZero())
}

func TestHealthDisabled(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	off := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Health: actors.HealthOptions{Interval: -1}})
	on := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Health: actors.HealthOptions{Interval: 5 * time.Millisecond}})
	var offPings, onPings atomic.Int32
	disarm := faults.For(sys).Arm(faults.HealthPing, func(self *actor.PID, _ any) {
		switch {
		case self.Equal(off.Database().PID()):
			offPings.Add(1)
		case self.Equal(on.Database().PID()):
			onPings.Add(1)
		}
	})
	defer disarm()
	ctx := testCtx(t)
	require.NoError(t, off.Connect(ctx))
	require.NoError(t, on.Connect(ctx))
	require.Equal(t, client.Healthy, status(t, off.Database()).Health, "connected: healthy, nothing checked")
	// The control pings three times while the other, connected as long, never does.
	require.Eventually(t, func() bool { return onPings.Load() >= 3 }, 10*time.Second, time.Millisecond)
	require.Zero(t, offPings.Load())
	require.NoError(t, on.Disconnect(ctx))
	require.NoError(t, off.Disconnect(ctx))
}

// TestHealthRealOutage stops a throwaway PostgreSQL server under a connected
// registry: the database turns degraded, queries fail with the driver's
// errors, the count stays; after the restart it turns healthy by itself
// and the same pool serves queries again.
func TestHealthRealOutage(t *testing.T) {
	c := testdb.StartCluster(t, testdb.ClusterOptions{Password: "s3cret-outage-pw"})
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	reg := newRegistry(t, sys, registry.Config{
		Database: c.DSN("s3cret-outage-pw") + "&connect_timeout=2",
		Health:   actors.HealthOptions{Interval: 50 * time.Millisecond, Timeout: time.Second, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond},
	}, hook)
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	db := reg.Database()
	pool := db.Pool()

	c.Stop(t)
	down := next[*messages.DatabaseDown](t, log.hook, 20*time.Second)
	require.ErrorIs(t, down.GetError(), registry.ErrConnectFailed)
	require.NotContains(t, down.GetError().GetMessage(), "s3cret-outage-pw")
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := pool.Exec(qctx, "SELECT 1")
	cancel()
	require.Error(t, err, "the server is down")
	st := status(t, db)
	require.Equal(t, client.Degraded, st.Health)
	require.Equal(t, 1, st.RefCount)
	require.True(t, st.Connected)
	require.NotContains(t, st.LastError.Error(), "s3cret-outage-pw")

	c.Start(t)
	next[*messages.DatabaseUp](t, log.hook, 30*time.Second)
	require.Same(t, pool, db.Pool(), "the same pool, never reopened")
	_, err = pool.Exec(ctx, "SELECT 1")
	require.NoError(t, err)
	st = status(t, db)
	require.Equal(t, client.Healthy, st.Health)
	require.Equal(t, 1, st.RefCount)
	require.NoError(t, st.LastError)
	require.NoError(t, reg.Disconnect(ctx))
}

// TestHealthEventConsumersMisbehave: a panicking EventStream subscriber is
// no end of the process, and a hook that disconnects the database it is
// told about does not wait for its own health loop.
func TestHealthEventConsumersMisbehave(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	sub := sys.EventStream.Subscribe(func(evt any) {
		if _, ok := evt.(*messages.DatabaseDown); ok {
			panic("subscriber bug")
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	var reg *registry.Registry
	disconnected := make(chan error, 1)
	var logs lockedBuffer
	reg = newRegistry(t, sys, registry.Config{
		Database: backends[0].url(t),
		Health:   actors.HealthOptions{Interval: 10 * time.Millisecond, BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond},
	}, registry.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), registry.WithEventHook(func(ev messages.Event) {
		if _, ok := ev.(*messages.DatabaseDown); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := reg.Database().Disconnect(ctx)
			disconnected <- err
		}
	}))
	ctx := testCtx(t)
	_, err := reg.Database().Connect(ctx)
	require.NoError(t, err)
	var failing atomic.Bool
	failing.Store(true)
	failPings(t, sys, reg.Database().PID, &failing)
	select {
	case err := <-disconnected:
		require.NoError(t, err, "the hook's disconnect does not wait for the hook")
	case <-ctx.Done():
		t.Fatal("no DatabaseDown")
	}
	requireCount(t, reg.Database(), 0, false)
	require.Contains(t, logs.String(), "EventStream subscriber panicked")
}

// TestHealthStatementFailureWakesCheck: a statement that fails with a
// connection-class error (here its backend was terminated) starts a health
// check at once, long before the next ping is due; the check finds the
// server up, so nothing is reported. A statement's own error (a syntax
// error) starts none.
func TestHealthStatementFailureWakesCheck(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	reg := newRegistry(t, sys, registry.Config{
		Database: backends[1].url(t), // PostgreSQL
		Health:   actors.HealthOptions{Interval: time.Hour},
	}, hook)
	var pings atomic.Int32
	disarm := faults.For(sys).Arm(faults.HealthPing, func(self *actor.PID, _ any) {
		if self.Equal(reg.Database().PID()) {
			pings.Add(1)
		}
	})
	defer disarm()
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	pool := reg.Database().Pool()

	_, err := pool.Exec(ctx, "SELEC 1")
	require.Error(t, err)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "SELECT pg_terminate_backend($1)", conn.Conn().PgConn().PID())
	require.NoError(t, err)
	require.Zero(t, pings.Load(), "a syntax error is the statement's, not the server's")
	_, err = conn.Exec(ctx, "SELECT 1")
	require.Error(t, err, "its backend is gone")
	conn.Release()
	require.Eventually(t, func() bool { return pings.Load() >= 1 }, 10*time.Second, time.Millisecond, "a check started at once")
	require.Equal(t, client.Healthy, status(t, reg.Database()).Health, "the server is up: no outage")
	select {
	case ev := <-log.hook:
		if _, down := ev.(*messages.DatabaseDown); down {
			t.Fatalf("a dropped connection reported as an outage: %v", ev)
		}
	default:
	}
	require.NoError(t, reg.Disconnect(ctx))
}

// TestLogsGoToDefault: without WithLogger an outage and its recovery are
// logged to slog.Default() — one line each, no password; WithLogger(nil)
// silences the registry. Not parallel: it replaces the default logger.
func TestLogsGoToDefault(t *testing.T) {
	var logs lockedBuffer
	prev := slog.Default()
	defer slog.SetDefault(prev)

	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	health := actors.HealthOptions{Interval: 10 * time.Millisecond, BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond}
	loud := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Health: health}, hook)
	// Set after New, as an application configuring logging later would:
	// the registry logs to the default of the moment.
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	qlog, qhook := newEventLog(t, sys)
	quiet := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Health: health}, registry.WithLogger(nil), qhook)
	var failing atomic.Bool
	failing.Store(true)
	disarm := faults.For(sys).Arm(faults.HealthPing, func(self *actor.PID, _ any) {
		if failing.Load() && (self.Equal(loud.Database().PID()) || self.Equal(quiet.Database().PID())) {
			panic("injected: server unreachable")
		}
	})
	defer disarm()
	ctx := testCtx(t)
	require.NoError(t, loud.Connect(ctx))
	require.NoError(t, quiet.Connect(ctx))
	next[*messages.DatabaseDown](t, log.hook, 10*time.Second)
	next[*messages.DatabaseDown](t, qlog.hook, 10*time.Second)
	failing.Store(false)
	next[*messages.DatabaseUp](t, log.hook, 10*time.Second)
	next[*messages.DatabaseUp](t, qlog.hook, 10*time.Second)
	require.NoError(t, loud.Disconnect(ctx))
	require.NoError(t, quiet.Disconnect(ctx))

	// A registry that makes its own actor system: Proto.Actor's chatter
	// (system started, dead letters) stays out of the default logger.
	own, err := registry.New(nil, registry.Config{Database: backends[0].url(t)})
	require.NoError(t, err)
	require.NoError(t, own.Connect(ctx))
	require.NoError(t, own.Close(ctx))

	out := logs.String()
	require.NotContains(t, out, "actor system started", "Proto.Actor's own log")
	require.Equal(t, 1, strings.Count(out, "database unreachable"), out)
	require.Equal(t, 1, strings.Count(out, "database reachable again"), out)
	require.Contains(t, out, "level=WARN")
}
