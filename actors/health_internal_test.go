package actors

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/sqlite"
	"github.com/dbactor/dbactor/internal/testdb"
)

// A pool whose connections are all in use is busy: the health loop does
// not queue a ping behind its users (which would time out on a healthy but
// busy server and report an outage that is none).
func TestPingerBusy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Run("sqlite", func(t *testing.T) {
		cfg, err := dsn.Parse("sqlite:///:memory:")
		require.NoError(t, err)
		sdb, err := sqlite.Open(cfg.SQLite)
		require.NoError(t, err)
		defer sdb.Close()
		p := pinger{db: sdb.SQL()}
		require.NoError(t, p.ping(ctx))
		require.False(t, p.busy())
		conn, err := sdb.SQL().Conn(ctx) // the memory database's one connection
		require.NoError(t, err)
		require.True(t, p.busy())
		require.NoError(t, conn.Close())
		require.False(t, p.busy())
	})
	t.Run("postgres", func(t *testing.T) {
		pcfg, err := pgxpool.ParseConfig(testdb.PostgresDSN(t))
		require.NoError(t, err)
		pcfg.MaxConns = 2
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		require.NoError(t, err)
		defer pool.Close()
		p := pinger{pool: pool}
		require.NoError(t, p.ping(ctx))
		a, err := pool.Acquire(ctx)
		require.NoError(t, err)
		require.False(t, p.busy())
		b, err := pool.Acquire(ctx)
		require.NoError(t, err)
		require.True(t, p.busy())
		a.Release()
		b.Release()
		require.False(t, p.busy())
	})
}

func TestHealthOptionsDefaults(t *testing.T) {
	t.Parallel()
	o := HealthOptions{}.withDefaults()
	require.Equal(t, HealthOptions{Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout,
		BackoffMin: DefaultBackoffMin, BackoffMax: DefaultBackoffMax}, o)
	o = HealthOptions{Interval: -1, BackoffMin: time.Minute, BackoffMax: time.Second}.withDefaults()
	require.Equal(t, time.Duration(-1), o.Interval, "negative: off")
	require.Equal(t, time.Minute, o.BackoffMax, "max never below min")
}
