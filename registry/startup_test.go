package registry_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/registry"
)

// WithStartup runs inside the first Connect that succeeds, with every
// database connected; a failure (or a panic) rolls that Connect back and
// the next Connect runs it again; once it has succeeded it never runs again.
func TestStartup(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		var calls atomic.Int32
		fail := errors.New("boom")
		var outcome atomic.Int32 // 0 fail, 1 panic, 2 succeed
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"other": b.url(t)},
		}, registry.WithStartup(func(ctx context.Context, r *registry.Registry) error {
			calls.Add(1)
			for _, db := range r.Databases() {
				if db.DB() == nil {
					return errors.New("a database is not connected in the startup function")
				}
			}
			switch outcome.Load() {
			case 0:
				return fail
			case 1:
				panic("startup panics")
			}
			return nil
		}))

		err := reg.Connect(ctx)
		require.ErrorIs(t, err, fail)
		requireAllCounts(t, reg, 0, false)

		outcome.Store(1)
		err = reg.Connect(ctx)
		require.ErrorContains(t, err, "startup function panicked")
		requireAllCounts(t, reg, 0, false)

		outcome.Store(2)
		require.NoError(t, reg.Connect(ctx))
		requireAllCounts(t, reg, 1, true)
		require.NoError(t, registry.Run(ctx, reg, func(context.Context) error { return nil }))
		require.Equal(t, int32(3), calls.Load(), "the startup function runs until it succeeds, then never again")
		require.NoError(t, reg.Disconnect(ctx))
	})
}

// A Connect that arrives while the startup function runs returns only after
// it has succeeded.
func TestStartupConcurrentConnect(t *testing.T) {
	ctx := testCtx(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	var done atomic.Bool
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)},
		registry.WithStartup(func(ctx context.Context, r *registry.Registry) error {
			close(entered)
			<-release
			done.Store(true)
			return nil
		}))
	first := make(chan error, 1)
	go func() { first <- reg.Connect(ctx) }()
	<-entered
	second := make(chan bool, 1)
	go func() {
		err := reg.Connect(ctx)
		second <- err == nil && done.Load()
	}()
	close(release)
	require.NoError(t, <-first)
	require.True(t, <-second, "the second Connect returned before the startup function had succeeded")
	requireAllCounts(t, reg, 2, true)
	require.NoError(t, reg.Disconnect(ctx))
	require.NoError(t, reg.Disconnect(ctx))
}
