package testdb_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dbactor/dbactor/internal/testdb"
)

// proxyTarget is host:port of the shared PostgreSQL server.
func proxyTarget(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// startProxy starts a proxy in front of the shared server and returns it
// with a DSN that goes through it.
func startProxy(t *testing.T) (*testdb.Proxy, string) {
	t.Helper()
	dsn := testdb.PostgresDSN(t)
	p := testdb.StartProxy(t, proxyTarget(t, dsn))
	return p, p.DSN(t, dsn)
}

func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func selectOne(ctx context.Context, conn *pgx.Conn) error {
	var n int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return errors.New("SELECT 1 returned " + strconv.Itoa(n))
	}
	return nil
}

// isBroken reports whether err says the connection broke: reset, ended, or
// closed by the driver after a failure.
func isBroken(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.As(err, &ne)
}

func TestProxyPassThrough(t *testing.T) {
	p, dsn := startProxy(t)
	require.NotEqual(t, p.Target(), p.Addr())
	mode, _ := p.Mode()
	require.Equal(t, testdb.ModePass, mode)

	conn, err := connect(t, dsn)
	require.NoError(t, err)
	require.NoError(t, selectOne(within(t, 10*time.Second), conn))
	require.Equal(t, int64(1), p.Accepted())
	require.Equal(t, 1, p.Open())

	// The server sees the proxy's connection as ours.
	var port int
	require.NoError(t, conn.QueryRow(within(t, 10*time.Second), "SELECT inet_client_port()").Scan(&port))
	require.NotZero(t, port)

	require.NoError(t, conn.Close(within(t, 5*time.Second)))
	require.Eventually(t, func() bool { return p.Open() == 0 }, 5*time.Second, 5*time.Millisecond,
		"a connection the client closed is closed upstream too")
}

func TestProxyDSNKeyValue(t *testing.T) {
	p := testdb.StartProxy(t, "127.0.0.1:1")
	host, port, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	require.Equal(t, "host=db port=5432 user=u host="+host+" port="+port,
		p.DSN(t, "host=db port=5432 user=u"))
	require.Equal(t, "postgres://u@"+p.Addr()+"/d?sslmode=disable",
		p.DSN(t, "postgres://u@db:5432/d?sslmode=disable"))
}

func TestProxyRefuse(t *testing.T) {
	p, dsn := startProxy(t)
	before, err := connect(t, dsn)
	require.NoError(t, err)

	p.Refuse()
	for range 5 {
		start := time.Now()
		_, err := connect(t, dsn)
		require.Error(t, err)
		require.Less(t, time.Since(start), 2*time.Second, "refused fast")
		require.True(t, isBroken(err), "reset or ended: %v", err)
	}
	// Every attempt reached the proxy and was reset (pgx may dial more than
	// once per attempt).
	require.GreaterOrEqual(t, p.Accepted(), int64(6))

	// Open connections keep working.
	require.NoError(t, selectOne(within(t, 10*time.Second), before))

	p.Pass()
	after, err := connect(t, dsn)
	require.NoError(t, err)
	require.NoError(t, selectOne(within(t, 10*time.Second), after))
}

func TestProxyDelay(t *testing.T) {
	p, dsn := startProxy(t)
	conn, err := connect(t, dsn)
	require.NoError(t, err)

	const d = 150 * time.Millisecond
	p.Delay(d)
	mode, got := p.Mode()
	require.Equal(t, testdb.ModeDelay, mode)
	require.Equal(t, d, got)

	// A round trip is at least one chunk each way.
	start := time.Now()
	require.NoError(t, selectOne(within(t, 10*time.Second), conn))
	require.GreaterOrEqual(t, time.Since(start), 2*d)

	// A deadline shorter than the delay cuts the query short, in time.
	ctx, cancel := context.WithTimeout(context.Background(), d/2)
	defer cancel()
	start = time.Now()
	err = selectOne(ctx, conn)
	require.Error(t, err)
	require.True(t, pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded), "timeout: %v", err)
	require.Less(t, time.Since(start), d/2+2*time.Second)

	// New connections are slowed down too, and still work.
	start = time.Now()
	slow, err := connect(t, dsn)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 2*d)

	p.Pass()
	start = time.Now()
	require.NoError(t, selectOne(within(t, 10*time.Second), slow))
	require.Less(t, time.Since(start), 2*d+2*time.Second)
}

func TestProxyCut(t *testing.T) {
	p, dsn := startProxy(t)
	conns := make([]*pgx.Conn, 3)
	for i := range conns {
		var err error
		conns[i], err = connect(t, dsn)
		require.NoError(t, err)
	}
	require.Equal(t, 3, p.Open())

	// A query in flight fails as soon as the connection is cut.
	inFlight := make(chan error, 1)
	go func() {
		_, err := conns[0].Exec(within(t, 30*time.Second), "SELECT pg_sleep(20)")
		inFlight <- err
	}()
	admin, err := connect(t, testdb.PostgresDSN(t))
	require.NoError(t, err)
	pid := conns[0].PgConn().PID()
	require.Eventually(t, func() bool {
		var active bool
		err := admin.QueryRow(within(t, 5*time.Second),
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", pid).Scan(&active)
		return err == nil && active
	}, 10*time.Second, 10*time.Millisecond)

	start := time.Now()
	require.Equal(t, 3, p.Cut())
	select {
	case err := <-inFlight:
		require.Error(t, err)
		require.True(t, isBroken(err), "broken connection: %v", err)
		require.Less(t, time.Since(start), 5*time.Second)
	case <-within(t, 10*time.Second).Done():
		t.Fatal("the query in flight did not fail after Cut")
	}
	for _, c := range conns[1:] {
		err := selectOne(within(t, 10*time.Second), c)
		require.Error(t, err)
		require.True(t, isBroken(err), "broken connection: %v", err)
	}
	require.Equal(t, int64(3), p.CutCount())
	require.Eventually(t, func() bool { return p.Open() == 0 }, 5*time.Second, 5*time.Millisecond)

	// The proxy keeps accepting, in its mode. (pgx also dials the proxy to
	// send cancel requests for the broken connections: count from here.)
	accepted := p.Accepted()
	again, err := connect(t, dsn)
	require.NoError(t, err)
	require.NoError(t, selectOne(within(t, 10*time.Second), again))
	require.Greater(t, p.Accepted(), accepted)
}

func TestProxyBlackhole(t *testing.T) {
	p, dsn := startProxy(t)
	conn, err := connect(t, dsn)
	require.NoError(t, err)
	held, err := connect(t, dsn)
	require.NoError(t, err)

	p.Blackhole()

	// An open connection gets no answer: its query ends by its deadline.
	const limit = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	err = selectOne(ctx, conn)
	require.Error(t, err)
	require.True(t, pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded), "timeout: %v", err)
	require.Less(t, time.Since(start), limit+2*time.Second)

	// A new connection is accepted and never answered.
	accepted := p.Accepted()
	ctx, cancel = context.WithTimeout(context.Background(), limit)
	defer cancel()
	start = time.Now()
	_, err = pgx.Connect(ctx, dsn)
	require.Error(t, err)
	require.True(t, pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded), "timeout: %v", err)
	require.Less(t, time.Since(start), limit+2*time.Second)
	require.Greater(t, p.Accepted(), accepted)

	// A query sent while the proxy holds it is forwarded once it heals.
	stalled := p.Stalled()
	result := make(chan error, 1)
	go func() { result <- selectOne(within(t, 30*time.Second), held) }()
	require.Eventually(t, func() bool { return p.Stalled() > stalled }, 10*time.Second, 5*time.Millisecond,
		"the query reached the proxy and is held")
	select {
	case err := <-result:
		t.Fatalf("a blackholed query returned: %v", err)
	default:
	}
	p.Pass()
	select {
	case err := <-result:
		require.NoError(t, err)
	case <-within(t, 10*time.Second).Done():
		t.Fatal("the held query did not complete after Pass")
	}

	fresh, err := connect(t, dsn)
	require.NoError(t, err)
	require.NoError(t, selectOne(within(t, 10*time.Second), fresh))
}

// Modes switch while many clients use the proxy: no race, no stuck
// goroutine, and the proxy still forwards afterwards.
func TestProxyConcurrentSwitching(t *testing.T) {
	p, dsn := startProxy(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var attempts atomic.Int64
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				attempts.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				if conn, err := pgx.Connect(ctx, dsn); err == nil {
					_ = selectOne(ctx, conn)
					_ = conn.Close(ctx)
				}
				cancel()
			}
		}()
	}
	// Switch until the clients have made 300 attempts, whatever they met.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; attempts.Load() < 300; i++ {
		if time.Now().After(deadline) {
			t.Errorf("clients stuck: %d attempts", attempts.Load())
			break
		}
		switch i % 5 {
		case 0:
			p.Pass()
		case 1:
			p.Delay(time.Millisecond)
		case 2:
			p.Blackhole()
		case 3:
			p.Cut()
		case 4:
			p.Refuse()
		}
		_, _ = p.Mode()
		_ = p.Open()
		_ = p.Accepted()
	}
	p.Pass()
	close(stop)
	wg.Wait()

	conn, err := connect(t, dsn)
	require.NoError(t, err)
	require.NoError(t, selectOne(within(t, 10*time.Second), conn))
}

// Closing the proxy ends every connection and goroutine, whatever state
// the connections are in.
func TestProxyCloseLeavesNothing(t *testing.T) {
	dsn := testdb.PostgresDSN(t)
	ignore := goleak.IgnoreCurrent()
	t.Run("proxy", func(t *testing.T) {
		p := testdb.StartProxy(t, proxyTarget(t, dsn))
		pdsn := p.DSN(t, dsn)
		busy, err := connect(t, pdsn)
		require.NoError(t, err)
		_, err = connect(t, pdsn)
		require.NoError(t, err)
		p.Delay(time.Hour)
		queried := make(chan error, 1)
		go func() { queried <- selectOne(context.Background(), busy) }() // held for an hour, until Close
		require.Eventually(t, func() bool { return p.Accepted() == 2 && p.Open() == 2 }, 5*time.Second, 5*time.Millisecond)
		p.Blackhole()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err = pgx.Connect(ctx, pdsn)
		require.Error(t, err)
		p.Close()
		require.Equal(t, 0, p.Open())
		require.True(t, isBroken(<-queried), "Close resets the delayed connection")
		p.Close() // idempotent; the cleanup closes once more
	})
	goleak.VerifyNone(t, ignore)
}
