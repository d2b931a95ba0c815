package actors

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/sqlite"
	"github.com/dbactor/dbactor/internal/testdb"
)

// An SQLite pool whose connections are all in use is busy: the health loop
// does not queue a ping behind its users (which would time out on a healthy
// but busy database and report an outage that is none). A PostgreSQL pool
// is never busy: its pings go over a connection of their own, answered
// while every pooled connection is taken.
func TestPingerBusy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Run("sqlite", func(t *testing.T) {
		cfg, err := dsn.Parse("sqlite:///:memory:")
		require.NoError(t, err)
		sdb, err := sqlite.Open(cfg.SQLite)
		require.NoError(t, err)
		defer sdb.Close()
		p := &pinger{db: sdb.SQL()}
		require.NoError(t, p.ping(ctx, time.Second))
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
		p := &pinger{pool: pool}
		defer p.close()
		a, err := pool.Acquire(ctx)
		require.NoError(t, err)
		b, err := pool.Acquire(ctx)
		require.NoError(t, err)
		require.False(t, p.busy())
		require.NoError(t, p.ping(ctx, time.Second), "every pooled connection taken: the probe's own answers")
		require.NotNil(t, p.conn)
		first := p.conn
		require.NoError(t, p.ping(ctx, time.Second))
		require.Same(t, first, p.conn, "the probe connection is kept")
		require.Equal(t, int32(2), pool.Stat().TotalConns(), "and is not the pool's")

		// The server drops the probe's connection: the next ping dials a
		// fresh one and succeeds, so a terminated backend is no outage.
		_, err = a.Exec(ctx, "SELECT pg_terminate_backend($1)", first.PgConn().PID())
		require.NoError(t, err)
		require.NoError(t, p.ping(ctx, time.Second))
		require.NotSame(t, first, p.conn)
		a.Release()
		b.Release()
	})
}

// Connection-class errors wake the health loop; a statement's own errors
// and the caller's cancelled context do not.
func TestConnectionClass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil-safe syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"query canceled", &pgconn.PgError{Code: "57014"}, false},
		{"eof", fmt.Errorf("read: %w", io.EOF), true},
		{"unexpected eof", io.ErrUnexpectedEOF, true},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"sqlite io", sqliteCode(sqliteIOErr | 3<<8), true},
		{"sqlite full", sqliteCode(sqliteFull), true},
		{"sqlite constraint", sqliteCode(19), false},
		{"plain", errors.New("no rows"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, connectionClass(tc.err))
		})
	}
}

type sqliteCode int

func (c sqliteCode) Error() string { return fmt.Sprintf("sqlite error %d", int(c)) }
func (c sqliteCode) Code() int     { return int(c) }

func TestHealthOptionsDefaults(t *testing.T) {
	t.Parallel()
	o := HealthOptions{}.withDefaults()
	require.Equal(t, HealthOptions{Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout,
		BackoffMin: DefaultBackoffMin, BackoffMax: DefaultBackoffMax}, o)
	o = HealthOptions{Interval: -1, BackoffMin: time.Minute, BackoffMax: time.Second}.withDefaults()
	require.Equal(t, time.Duration(-1), o.Interval, "negative: off")
	require.Equal(t, time.Minute, o.BackoffMax, "max never below min")
}

// A role whose every connection slot the pool holds: the probe cannot log
// in (53300), which means the server answered — healthy, not an outage.
func TestPingerNoSlotLeft(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, testdb.PostgresDSN(t))
	require.NoError(t, err)
	defer admin.Close(ctx)
	role := fmt.Sprintf("dbactor_probe_%d", time.Now().UnixNano())
	_, err = admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN CONNECTION LIMIT 1")
	require.NoError(t, err)
	defer func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) }()

	pcfg, err := pgxpool.ParseConfig(testdb.PostgresDSN(t))
	require.NoError(t, err)
	pcfg.ConnConfig.User, pcfg.ConnConfig.Password = role, ""
	pcfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	require.NoError(t, err)
	defer pool.Close()
	held, err := pool.Acquire(ctx)
	require.NoError(t, err)

	p := &pinger{pool: pool}
	defer p.close()
	require.NoError(t, p.ping(ctx, time.Second), "the server answered: no slot for the probe is no outage")
	require.Nil(t, p.conn)
	require.False(t, p.full.IsZero(), "a full server is not dialled at every check")
	held.Release()
	require.NoError(t, p.ping(ctx, time.Second))
	require.Nil(t, p.conn, "not dialled again for a while")
}

// A connect failure that may pass by itself is transient (WithConnectRetry
// tries again); one that will not is not.
func TestTransient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", &pgconn.ConnectError{}, false}, // no cause: nothing says it passes
		{"refused dial", fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{"unreachable", &net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, true},
		{"deadline", fmt.Errorf("connect: %w", context.DeadlineExceeded), true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"wrong password", &pgconn.PgError{Code: "28P01"}, false},
		{"missing database", &pgconn.PgError{Code: "3D000"}, false},
		{"unknown host (a container not up yet)", &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, true},
		{"dns timeout", &net.DNSError{Err: "timeout", Name: "db", IsTimeout: true}, true},
		{"untrusted certificate", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), false},
		{"eof at startup", io.ErrUnexpectedEOF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, transient(tc.err))
		})
	}
}
