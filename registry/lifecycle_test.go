package registry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/registry"
)

// Spec §1.3 D1–D6: one database's ref count and pool.
func TestDatabaseRefCount(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		db := reg.Database()
		require.Equal(t, "", db.Name())

		// D3: a fresh database clamps at 0.
		closed, err := db.Disconnect(ctx)
		require.NoError(t, err)
		require.False(t, closed)
		requireCount(t, db, 0, false)

		// D1: 0 → 1 opens and pings.
		opened, err := db.Connect(ctx)
		require.NoError(t, err)
		require.True(t, opened)
		requireCount(t, db, 1, true)
		ping(t, db)
		firstDB, firstPool := db.DB(), db.Pool()

		// D2: later connects only count; same pool.
		opened, err = db.Connect(ctx)
		require.NoError(t, err)
		require.False(t, opened)
		requireCount(t, db, 2, true)
		require.Same(t, firstDB, db.DB())
		require.Same(t, firstPool, db.Pool())

		// D3: a disconnect that leaves a count keeps it open.
		closed, err = db.Disconnect(ctx)
		require.NoError(t, err)
		require.False(t, closed)
		requireCount(t, db, 1, true)
		ping(t, db)

		// D4: the last disconnect closes.
		closed, err = db.Disconnect(ctx)
		require.NoError(t, err)
		require.True(t, closed)
		requireCount(t, db, 0, false)
		require.Error(t, firstDB.PingContext(ctx), "the old pool is closed")

		// D3: and clamps afterwards.
		closed, err = db.Disconnect(ctx)
		require.NoError(t, err)
		require.False(t, closed)
		requireCount(t, db, 0, false)

		// D6: reconnecting builds a new pool.
		opened, err = db.Connect(ctx)
		require.NoError(t, err)
		require.True(t, opened)
		require.NotSame(t, firstDB, db.DB())
		ping(t, db)

		// D5: force sets the count to 0 and closes; the database is reusable.
		_, err = db.Connect(ctx)
		require.NoError(t, err)
		requireCount(t, db, 2, true)
		closed, err = db.ForceDisconnect(ctx)
		require.NoError(t, err)
		require.True(t, closed)
		requireCount(t, db, 0, false)
		closed, err = db.ForceDisconnect(ctx)
		require.NoError(t, err)
		require.False(t, closed, "forcing a closed database closes nothing")
		opened, err = db.Connect(ctx)
		require.NoError(t, err)
		require.True(t, opened)
		requireCount(t, db, 1, true)
		closed, err = db.Disconnect(ctx)
		require.NoError(t, err)
		require.True(t, closed)
	})
}

// Spec §1.3 D13 and D1 step 2, D4 step 4: hooks and their failures.
func TestHooks(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		var connects, disconnects atomic.Int32
		failConnect, failDisconnect := errors.New("on-connect says no"), errors.New("on-disconnect says no")
		var connectErr, disconnectErr atomic.Pointer[error]
		var panicNow atomic.Bool
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)}, registry.WithHooks("", actors.Hooks{
			OnConnect: func(ctx context.Context) error {
				connects.Add(1)
				if panicNow.Load() {
					panic("hook exploded")
				}
				if p := connectErr.Load(); p != nil {
					return *p
				}
				return nil
			},
			OnDisconnect: func(ctx context.Context) error {
				disconnects.Add(1)
				if p := disconnectErr.Load(); p != nil {
					return *p
				}
				return nil
			},
		}))
		db := reg.Database()

		// Hooks run on the first connect and the last disconnect only.
		for range 3 {
			_, err := db.Connect(ctx)
			require.NoError(t, err)
		}
		for range 3 {
			_, err := db.Disconnect(ctx)
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, connects.Load())
		require.EqualValues(t, 1, disconnects.Load())

		// A failing on-connect hook opens nothing and leaves the count at 0.
		connectErr.Store(&failConnect)
		opened, err := db.Connect(ctx)
		require.False(t, opened)
		require.ErrorIs(t, err, registry.ErrHookFailed)
		require.ErrorContains(t, err, "on-connect says no")
		var ce *registry.ConnectError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, "", ce.Database)
		requireCount(t, db, 0, false)
		connectErr.Store(nil)

		// A failing on-disconnect hook is reported, but the database is closed
		// and can be connected again.
		_, err = db.Connect(ctx)
		require.NoError(t, err)
		disconnectErr.Store(&failDisconnect)
		closed, err := db.Disconnect(ctx)
		require.True(t, closed)
		require.ErrorIs(t, err, registry.ErrHookFailed)
		require.ErrorContains(t, err, "on-disconnect says no")
		requireCount(t, db, 0, false)
		disconnectErr.Store(nil)
		opened, err = db.Connect(ctx)
		require.NoError(t, err)
		require.True(t, opened)
		ping(t, db)

		// A panicking hook is a hook failure, not a crash.
		_, err = db.Disconnect(ctx)
		require.NoError(t, err)
		panicNow.Store(true)
		_, err = db.Connect(ctx)
		require.ErrorIs(t, err, registry.ErrHookFailed)
		require.ErrorContains(t, err, "panicked")
		requireCount(t, db, 0, false)
	})
}

// Spec §1.2 C1, C5, C6: the registry connects and disconnects every database;
// nesting raises every count.
func TestRegistryConnectNests(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"analytics": b.url(t), "ano ther ": b.url(t)},
		})
		require.Len(t, reg.Databases(), 3)
		require.Equal(t, []string{"", "analytics", "ano ther "}, names(reg.Databases()))

		require.NoError(t, reg.Connect(ctx))
		for _, db := range reg.Databases() {
			requireCount(t, db, 1, true)
			ping(t, db)
		}
		require.NoError(t, reg.Connect(ctx))
		for _, db := range reg.Databases() {
			requireCount(t, db, 2, true)
		}
		require.NoError(t, reg.Disconnect(ctx))
		for _, db := range reg.Databases() {
			requireCount(t, db, 1, true)
		}
		require.NoError(t, reg.Disconnect(ctx))
		for _, db := range reg.Databases() {
			requireCount(t, db, 0, false)
		}
		// Disconnecting a disconnected registry clamps every count.
		require.NoError(t, reg.Disconnect(ctx))
		for _, db := range reg.Databases() {
			requireCount(t, db, 0, false)
		}
	})
}

func names(dbs []*registry.Database) []string {
	out := make([]string, len(dbs))
	for i, db := range dbs {
		out[i] = db.Name()
	}
	return out
}

// Spec §1.2 C3 and deviations 1–2: all or nothing, every failure reported.
func TestRegistryConnectRollsBack(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	good := func() string { return backends[0].url(t) }
	reg := newRegistry(t, sys, registry.Config{
		Database: good(),
		Extra: map[string]string{
			"a_ok":     good(),
			"b_broken": missingDirURL(t),
			"c_ok":     good(),
			"d_broken": missingDirURL(t),
		},
	})
	err := reg.Connect(ctx)
	require.Error(t, err)
	require.ErrorIs(t, err, registry.ErrConnectFailed)

	var failed []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *registry.ConnectError
		require.ErrorAs(t, e, &ce)
		failed = append(failed, ce.Database)
	}
	require.Equal(t, []string{"b_broken", "d_broken"}, failed, "every failure, in registry order")
	for _, db := range reg.Databases() {
		requireCount(t, db, 0, false)
	}

	// The databases stay usable: a second registry sharing the good ones works.
	a, err := reg.Extra("a_ok")
	require.NoError(t, err)
	opened, err := a.Connect(ctx)
	require.NoError(t, err)
	require.True(t, opened)
	_, err = a.Disconnect(ctx)
	require.NoError(t, err)
}

// A main database that fails rolls back every extra.
func TestRegistryConnectMainFails(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: missingDirURL(t),
		Extra:    map[string]string{"x": backends[0].url(t)},
	})
	err := reg.Connect(ctx)
	var ce *registry.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "", ce.Database)
	require.Contains(t, err.Error(), "main database")
	x, _ := reg.Extra("x")
	requireCount(t, x, 0, false)
}

// A rollback gives back only what the failed connect took: a database held
// before it keeps its earlier count.
func TestRegistryRollbackKeepsEarlierCounts(t *testing.T) {
	ctx := testCtx(t)
	var fail atomic.Bool
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"x": backends[0].url(t)},
	}, registry.WithHooks("x", actors.Hooks{OnConnect: func(context.Context) error {
		if fail.Load() {
			return errors.New("x refuses")
		}
		return nil
	}}))
	_, err := reg.Database().Connect(ctx) // held by someone else
	require.NoError(t, err)
	fail.Store(true)
	err = reg.Connect(ctx)
	require.ErrorIs(t, err, registry.ErrHookFailed)
	requireCount(t, reg.Database(), 1, true)
	x, _ := reg.Extra("x")
	requireCount(t, x, 0, false)
}

// Spec §1.2 C6 and R4: a database shared by two registries is one actor with
// one count; it stays open while either holds it.
func TestSharedDatabase(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		sys := newSystem(t)
		owner := newRegistry(t, sys, registry.Config{Database: b.url(t)})
		other := newRegistry(t, sys, registry.Config{Database: b.url(t)},
			registry.WithExtraDatabase("shared", owner.Database()))

		shared, err := other.Extra("shared")
		require.NoError(t, err)
		require.Equal(t, "shared", shared.Name())
		require.True(t, shared.PID().Equal(owner.Database().PID()), "one actor")

		require.NoError(t, owner.Connect(ctx))
		require.NoError(t, other.Connect(ctx))
		requireCount(t, owner.Database(), 2, true)
		require.NoError(t, owner.Disconnect(ctx))
		requireCount(t, owner.Database(), 1, true)
		ping(t, shared)
		require.NoError(t, other.Disconnect(ctx))
		requireCount(t, owner.Database(), 0, false)

		// Closing the sharing registry gives back what it still holds.
		require.NoError(t, owner.Connect(ctx))
		require.NoError(t, other.Connect(ctx))
		require.NoError(t, other.Close(ctx))
		requireCount(t, owner.Database(), 1, true)
	})
}

// 100 goroutines connecting and disconnecting leave exact counts.
func TestConcurrentConnectDisconnect(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"x": b.url(t)},
		})
		const n = 100
		var wg sync.WaitGroup
		var opened atomic.Int32
		errs := make(chan error, 4*n)
		for i := range n {
			wg.Go(func() {
				if i%2 == 0 {
					errs <- reg.Connect(ctx)
					return
				}
				o, err := reg.Database().Connect(ctx)
				if o {
					opened.Add(1)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		requireCount(t, reg.Database(), n, true)
		x, _ := reg.Extra("x")
		requireCount(t, x, n/2, true)
		require.LessOrEqual(t, opened.Load(), int32(1), "only one connect opens the pool")

		errs = make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				if i%2 == 0 {
					errs <- reg.Disconnect(ctx)
					return
				}
				_, err := reg.Database().Disconnect(ctx)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		requireCount(t, reg.Database(), 0, false)
		requireCount(t, x, 0, false)
	})
}

// A caller that gives up (ctx cancelled) while its connect is under way
// leaves no count behind: the late success is disconnected again.
func TestCancelledConnectGivesBackItsCount(t *testing.T) {
	ctx := testCtx(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	undone := make(chan struct{}, 1)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)}, registry.WithHooks("", actors.Hooks{
		OnConnect: func(context.Context) error {
			entered <- struct{}{}
			<-release
			return nil
		},
		OnDisconnect: func(context.Context) error {
			undone <- struct{}{}
			return nil
		},
	}))
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := reg.Database().Connect(cctx); errc <- err }()
	<-entered
	cancel()
	err := <-errc
	require.ErrorIs(t, err, registry.ErrCanceled)
	require.ErrorIs(t, err, context.Canceled)
	close(release) // the connect now succeeds, after its caller left
	select {
	case <-undone:
	case <-ctx.Done():
		t.Fatal("the late connect was never undone")
	}
	requireCount(t, reg.Database(), 0, false)
}

// Spec §1.2 C5: Disconnect attempts every database, and every failure comes
// back (deviation 1), while each database is still closed.
func TestRegistryDisconnectAttemptsEvery(t *testing.T) {
	ctx := testCtx(t)
	fail := func(context.Context) error { return errors.New("on-disconnect says no") }
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"a": backends[0].url(t), "b": backends[0].url(t)},
	}, registry.WithHooks("", actors.Hooks{OnDisconnect: fail}), registry.WithHooks("b", actors.Hooks{OnDisconnect: fail}))
	require.NoError(t, reg.Connect(ctx))
	err := reg.Disconnect(ctx)
	require.ErrorIs(t, err, registry.ErrHookFailed)
	var failed []string
	for _, e := range unwrapAll(err) {
		var de *registry.DisconnectError
		require.ErrorAs(t, e, &de)
		failed = append(failed, de.Database)
	}
	require.Equal(t, []string{"", "b"}, failed)
	for _, db := range reg.Databases() {
		requireCount(t, db, 0, false)
	}
}
