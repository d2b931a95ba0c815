package registry_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
	"github.com/dbactor/dbactor/registrytest"
)

func selectOne(ctx context.Context, q actors.Querier) error {
	var one int
	return q.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// TestRunNotConnectedWarns: Edgy's DatabaseNotConnectedWarning. Run on a
// database nobody connected warns (log and event), connects for the one
// operation and disconnects after.
func TestRunNotConnectedWarns(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		sys := newSystem(t)
		log, hook := newEventLog(t, sys)
		var logs lockedBuffer
		reg := newRegistry(t, sys, registry.Config{Database: b.url(t), Extra: map[string]string{"x": b.url(t)}}, hook,
			registry.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		x, err := reg.Extra("x")
		require.NoError(t, err)
		ctx := testCtx(t)
		var during registry.Status
		require.NoError(t, x.Run(ctx, func(ctx context.Context, q actors.Querier) error {
			during = status(t, x)
			return selectOne(ctx, q)
		}))
		require.Equal(t, 1, during.RefCount, "connected for the operation")
		requireCount(t, x, 0, false)
		ev := next[*messages.DatabaseNotConnected](t, log.hook, 10*time.Second)
		require.Equal(t, "x", ev.GetDatabase())
		require.False(t, ev.GetRefused())
		require.Contains(t, logs.String(), `msg="dbactor: database not connected`)
		require.Contains(t, logs.String(), `database="database \"x\""`)
		require.Contains(t, logs.String(), "connect the registry first")
	})
}

// TestRunConnected: no warning while connected; the count is back where it
// was after the operation, also when it fails or panics.
func TestRunConnected(t *testing.T) {
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	var logs lockedBuffer
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, hook,
		registry.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	db := reg.Database()
	require.NoError(t, db.Run(ctx, selectOne))
	boom := errors.New("boom")
	require.ErrorIs(t, db.Run(ctx, func(context.Context, actors.Querier) error { return boom }), boom)
	require.PanicsWithValue(t, "bug", func() {
		_ = db.Run(ctx, func(context.Context, actors.Querier) error { panic("bug") })
	})
	requireCount(t, db, 1, true)
	require.NotContains(t, logs.String(), "not connected")
	select {
	case ev := <-log.hook:
		_, warned := ev.(*messages.DatabaseNotConnected)
		require.False(t, warned, "no DatabaseNotConnected while connected")
	default:
	}
	require.ErrorIs(t, db.Run(ctx, nil), messages.ErrInvalidArgument)
	require.NoError(t, reg.Disconnect(ctx))
}

// TestRunForceRollbackNotConnected: Edgy's RuntimeError("db is not
// connected."): an operation on a force-rollback database nobody connected
// would be rolled back at once, so it is refused.
func TestRunForceRollbackNotConnected(t *testing.T) {
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, hook, registry.WithForceRollback(""))
	ctx := testCtx(t)
	called := false
	err := reg.Database().Run(ctx, func(context.Context, actors.Querier) error { called = true; return nil })
	require.ErrorIs(t, err, registry.ErrNotConnected)
	require.False(t, called)
	require.True(t, next[*messages.DatabaseNotConnected](t, log.hook, 10*time.Second).GetRefused())
	requireCount(t, reg.Database(), 0, false)
}

func TestForceRollbackConfig(t *testing.T) {
	sys := newSystem(t)
	_, err := registry.New(sys, registry.Config{Database: backends[0].url(t)}, registry.WithForceRollback("nope"))
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	require.ErrorIs(t, err, registry.ErrUnknownDatabase)
	owner := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	_, err = registry.New(sys, registry.Config{Database: backends[0].url(t)},
		registry.WithExtraDatabase("s", owner.Database()), registry.WithForceRollback("s"))
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
}

type sandboxRow struct {
	ID  int64  `db:"id,pk,noauto"`
	Who string `db:"who"`
}

// TestSandboxIsolation: two tests on one database write the same row; each
// sees only its own, the table they created persists, and nothing they
// wrote does.
func TestSandboxIsolation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		for _, who := range []string{"first", "second"} {
			t.Run(who, func(t *testing.T) {
				reg := registrytest.New(t, registry.Config{Database: url})
				ctx := testCtx(t)
				_, err := reg.RegisterModel(ctx, sandboxRow{}, models.Table("sandbox_rows"))
				require.NoError(t, err)
				require.NoError(t, reg.CreateAll(ctx), "DDL bypasses the sandbox")
				db := reg.Database()
				count := func() (n int) {
					require.NoError(t, db.Run(ctx, func(ctx context.Context, q actors.Querier) error {
						return q.QueryRowContext(ctx, `SELECT count(*) FROM sandbox_rows`).Scan(&n)
					}))
					return n
				}
				require.Equal(t, 0, count(), "nothing left by an earlier test")
				require.NoError(t, db.Run(ctx, func(ctx context.Context, q actors.Querier) error {
					_, err := q.ExecContext(ctx, `INSERT INTO sandbox_rows (id, who) VALUES (1, '`+who+`')`)
					return err
				}))
				// A failing operation rolls back to its savepoint only: the
				// sandbox transaction goes on.
				err = db.Run(ctx, func(ctx context.Context, q actors.Querier) error {
					_, err := q.ExecContext(ctx, `INSERT INTO sandbox_rows (id, who) VALUES (1, 'duplicate')`)
					return err
				})
				require.Error(t, err)
				var got string
				require.NoError(t, db.Run(ctx, func(ctx context.Context, q actors.Querier) error {
					return q.QueryRowContext(ctx, `SELECT who FROM sandbox_rows WHERE id = 1`).Scan(&got)
				}))
				require.Equal(t, who, got)
				require.Equal(t, 1, count())
			})
		}
		// Outside any sandbox: the table is there, empty.
		sys := newSystem(t)
		plain := newRegistry(t, sys, registry.Config{Database: url})
		ctx := testCtx(t)
		require.NoError(t, plain.Connect(ctx))
		var n int
		require.NoError(t, plain.Database().DB().QueryRowContext(ctx, `SELECT count(*) FROM sandbox_rows`).Scan(&n))
		require.Zero(t, n)
		require.NoError(t, plain.Disconnect(ctx))
	})
}

// TestLifecycleEvents: connect, failed connect with rollback, disconnect
// and model registration are told as typed events.
func TestLifecycleEvents(t *testing.T) {
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Extra: map[string]string{"bad": missingDirURL(t)}}, hook)
	ctx := testCtx(t)
	_, err := reg.Database().Connect(ctx)
	require.NoError(t, err)
	require.Equal(t, "", next[*messages.DatabaseConnecting](t, log.hook, 10*time.Second).GetDatabase())
	connected := next[*messages.DatabaseConnected](t, log.hook, 10*time.Second)
	require.Equal(t, "", connected.GetDatabase())
	require.GreaterOrEqual(t, connected.GetDurationMs(), int64(0))
	_, err = reg.Database().Disconnect(ctx)
	require.NoError(t, err)
	require.False(t, next[*messages.DatabaseDisconnected](t, log.hook, 10*time.Second).GetForced())

	require.Error(t, reg.Connect(ctx))
	failed := next[*messages.DatabaseConnectFailed](t, log.hook, 10*time.Second)
	require.Equal(t, "bad", failed.GetDatabase())
	require.ErrorIs(t, failed.GetError(), registry.ErrConnectFailed)
	require.Equal(t, []string{""}, next[*messages.RollingBack](t, log.hook, 10*time.Second).GetDatabases())
	rolled := next[*messages.RolledBack](t, log.hook, 10*time.Second)
	require.Equal(t, []string{""}, rolled.GetDatabases())
	require.Empty(t, rolled.GetErrors())

	_, err = reg.RegisterModel(ctx, User{})
	require.NoError(t, err)
	require.Equal(t, "User", next[*messages.ModelRegistered](t, log.stream, 10*time.Second).GetName())
}

// TestSandboxNestedRun: a Run inside a Run on the same sandboxed database
// (the inner one given the outer's ctx) nests as a savepoint instead of
// waiting for the outer one forever; a failing inner operation undoes only
// itself.
func TestSandboxNestedRun(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := registrytest.New(t, registry.Config{Database: b.url(t)})
		ctx := testCtx(t)
		db := reg.Database()
		_, err := db.DB().ExecContext(ctx, `CREATE TABLE nested (v int)`)
		require.NoError(t, err)
		insert := func(v int) func(context.Context, actors.Querier) error {
			return func(ctx context.Context, q actors.Querier) error {
				_, err := q.ExecContext(ctx, `INSERT INTO nested VALUES (`+string(rune('0'+v))+`)`)
				return err
			}
		}
		boom := errors.New("inner fails")
		require.NoError(t, db.Run(ctx, func(ctx context.Context, q actors.Querier) error {
			if err := insert(1)(ctx, q); err != nil {
				return err
			}
			require.NoError(t, db.Run(ctx, insert(2)))
			require.ErrorIs(t, db.Run(ctx, func(ctx context.Context, q actors.Querier) error {
				if err := insert(3)(ctx, q); err != nil {
					return err
				}
				return boom
			}), boom)
			return nil
		}))
		var sum int
		require.NoError(t, db.Run(ctx, func(ctx context.Context, q actors.Querier) error {
			return q.QueryRowContext(ctx, `SELECT COALESCE(SUM(v), 0) FROM nested`).Scan(&sum)
		}))
		require.Equal(t, 3, sum, "1 and 2 kept, 3 undone with its failing operation")
		requireCount(t, db, 1, true)
	})
}

// TestSandboxConcurrency: nested operations from goroutines take turns
// inside the outer one; an operation on another ctx waits for the outer
// one only until its ctx ends.
func TestSandboxConcurrency(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := registrytest.New(t, registry.Config{Database: b.url(t)})
		ctx := testCtx(t)
		db := reg.Database()
		_, err := db.DB().ExecContext(ctx, `CREATE TABLE conc (v int)`)
		require.NoError(t, err)
		require.NoError(t, db.Run(ctx, func(inner context.Context, q actors.Querier) error {
			errs := make(chan error, 8)
			for range 8 {
				go func() {
					errs <- db.Run(inner, func(ctx context.Context, q actors.Querier) error {
						_, err := q.ExecContext(ctx, `INSERT INTO conc VALUES (1)`)
						return err
					})
				}()
			}
			for range 8 {
				require.NoError(t, <-errs)
			}
			// Not the ctx fn got: it waits for this operation, until its own ctx ends.
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, db.Run(short, selectOne), context.DeadlineExceeded)
			return nil
		}))
		var n int
		require.NoError(t, db.Run(ctx, func(ctx context.Context, q actors.Querier) error {
			return q.QueryRowContext(ctx, `SELECT count(*) FROM conc`).Scan(&n)
		}))
		require.Equal(t, 8, n)
	})
}

// TestSandboxReset: a statement cancelled by its context breaks the
// PostgreSQL connection; the sandbox says so and starts over.
func TestSandboxReset(t *testing.T) {
	reg := registrytest.New(t, registry.Config{Database: backends[1].url(t)})
	ctx := testCtx(t)
	db := reg.Database()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := db.Run(short, func(ctx context.Context, q actors.Querier) error {
		_, err := q.ExecContext(ctx, `SELECT pg_sleep(5)`)
		return err
	})
	require.Error(t, err)
	// The next operation works (on a new sandbox if the old one broke).
	require.NoError(t, db.Run(ctx, selectOne))
	require.NoError(t, db.Run(ctx, selectOne))
}

func TestForceRollbackRefusesMemory(t *testing.T) {
	_, err := registry.New(newSystem(t), registry.Config{Database: "sqlite:///:memory:"}, registry.WithForceRollback(""))
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	require.ErrorIs(t, err, registry.ErrUnsupported)
}

// Close of a connected database tells it, as a forced disconnect.
func TestCloseEvent(t *testing.T) {
	sys := newSystem(t)
	log, hook := newEventLog(t, sys)
	reg, err := registry.New(sys, registry.Config{Database: backends[0].url(t)}, hook)
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	require.NoError(t, reg.Close(ctx))
	require.True(t, next[*messages.DatabaseDisconnected](t, log.hook, 10*time.Second).GetForced())
}
