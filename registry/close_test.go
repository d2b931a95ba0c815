package registry_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// Close stops the actors, closes every pool whatever its count, is
// idempotent, and makes every later call fail fast with ErrClosed.
func TestClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		sys := newSystem(t)
		reg, err := registry.New(sys, registry.Config{Database: b.url(t), Extra: map[string]string{"x": b.url(t)}})
		require.NoError(t, err)
		require.NoError(t, reg.Connect(ctx))
		require.NoError(t, reg.Connect(ctx))
		main := reg.Database()
		sqldb := main.DB()

		require.NoError(t, reg.Close(ctx))
		require.Nil(t, main.DB())
		require.Nil(t, main.Pool())
		require.Error(t, sqldb.PingContext(ctx), "the pool is closed")
		require.NoError(t, reg.Close(ctx), "Close is idempotent")

		start := time.Now()
		_, err = main.Connect(ctx)
		require.ErrorIs(t, err, registry.ErrClosed)
		require.ErrorIs(t, reg.Connect(ctx), registry.ErrClosed)
		require.ErrorIs(t, reg.Disconnect(ctx), registry.ErrClosed)
		_, err = main.Status(ctx)
		require.ErrorIs(t, err, registry.ErrClosed)
		require.Less(t, time.Since(start), time.Second, "calls after Close fail fast")

		// The actors are gone: a message gets a dead letter at once.
		_, err = sys.Root.RequestFuture(reg.PID(), &messages.GetStatus{}, 5*time.Second).Result()
		require.Error(t, err)
	})
}

// Close racing with connects: every caller gets a result or ErrClosed.
func TestCloseDuringConnects(t *testing.T) {
	ctx := testCtx(t)
	reg, err := registry.New(nil, registry.Config{Database: backends[0].url(t), Extra: map[string]string{"x": backends[0].url(t)}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 100 {
		wg.Go(func() { errs <- reg.Connect(ctx) })
		wg.Go(func() { _, err := reg.Database().Connect(ctx); errs <- err })
	}
	require.NoError(t, reg.Close(ctx))
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			require.ErrorIs(t, err, registry.ErrClosed)
		}
	}
	require.Nil(t, reg.Database().DB())
}

// Close waits for pools to close, bounded by its context: a connection the
// user still holds keeps a pgx pool open, and Close reports that.
func TestCloseBoundedByContext(t *testing.T) {
	ctx := testCtx(t)
	reg, err := registry.New(nil, registry.Config{Database: backends[1].url(t)})
	require.NoError(t, err)
	require.NoError(t, reg.Connect(ctx))
	conn, err := reg.Database().DB().Conn(ctx)
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = reg.Close(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, conn.Close())
	require.NoError(t, reg.Close(ctx), "a later Close waits for the rest")
}
