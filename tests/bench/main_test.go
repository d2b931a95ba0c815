package bench

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// TestMain fails the run if a benchmark leaves goroutines behind: every
// registry is closed, every pool closed and every actor stopped by the
// cleanups the helpers below register.
func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// setupTimeout bounds each setup and teardown step of a benchmark (creating
// a database, connecting, closing); the measured loops have none.
const setupTimeout = time.Minute

// setupContext returns a context for one setup or teardown step.
func setupContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// postgresDSN is the DSN of the shared PostgreSQL server
// ($DBACTOR_TEST_DATABASE); without one the benchmark is skipped (failed
// under CI=true), as the tests are.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	return testdb.PostgresDSN(tb)
}

// newPostgresDatabase creates an empty database of its own for tb on the
// shared server and returns its DSN; it is dropped when tb ends (after the
// cleanups registered later, which close the pools on it).
func newPostgresDatabase(tb testing.TB) string {
	tb.Helper()
	return testdb.NewPostgresDatabase(tb)
}

// newActorSystem returns a quiet actor system for tb. Proto.Actor has no
// way to stop a system's actors: whoever spawns on it stops what they
// spawned (a registry's Close stops its own actors).
func newActorSystem(tb testing.TB) *actor.ActorSystem {
	tb.Helper()
	sys := registry.NewActorSystem(nil)
	tb.Cleanup(sys.Shutdown)
	return sys
}

// newRegistry creates a registry on sys and closes it when tb ends.
func newRegistry(tb testing.TB, sys *actor.ActorSystem, cfg registry.Config, opts ...registry.Option) *registry.Registry {
	tb.Helper()
	reg, err := registry.New(sys, cfg, opts...)
	if err != nil {
		tb.Fatalf("registry.New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			tb.Errorf("closing the registry: %v", err)
		}
	})
	return reg
}

// connectedRegistry is newRegistry followed by a Connect (undone by the
// Close at cleanup, which closes every pool whatever its count).
func connectedRegistry(tb testing.TB, sys *actor.ActorSystem, cfg registry.Config, opts ...registry.Option) *registry.Registry {
	tb.Helper()
	reg := newRegistry(tb, sys, cfg, opts...)
	if err := reg.Connect(setupContext(tb)); err != nil {
		tb.Fatalf("connecting the registry: %v", err)
	}
	return reg
}

// newRawPool opens a plain pgxpool.Pool on dsn, configured by pgxpool's own
// ParseConfig, then adjusted by tune (nil: no change); it is closed when tb
// ends. Like the registry's, it is pinged once before use.
func newRawPool(tb testing.TB, dsn string, tune func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("pgxpool.ParseConfig: %v", err)
	}
	if tune != nil {
		tune(cfg)
	}
	ctx := setupContext(tb)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("pgxpool.NewWithConfig: %v", err)
	}
	tb.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		tb.Fatalf("pinging the reference pool: %v", err)
	}
	return pool
}
