package registry_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// TestConnectRetryWaitsForServer: a server down at startup and up 3 s
// later. With WithConnectRetry, Connect waits for it, logging each failed
// attempt without the password, and connects once it is up.
func TestConnectRetryWaitsForServer(t *testing.T) {
	c := testdb.StartCluster(t, testdb.ClusterOptions{Password: "retry-s3cret"})
	c.Stop(t)
	var logs lockedBuffer
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{
		Database: c.DSN("retry-s3cret") + "&connect_timeout=1",
		Extra:    map[string]string{"side": backends[0].url(t)},
	}, registry.WithConnectRetry(), registry.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	connected := make(chan error, 1)
	go func() { connected <- reg.Connect(ctx) }()

	require.Eventually(t, func() bool { return strings.Count(logs.String(), "connect failed; retrying") >= 2 }, 30*time.Second, time.Millisecond)
	select {
	case err := <-connected:
		t.Fatalf("Connect returned while the server is down: %v", err)
	case <-time.After(3*time.Second - time.Since(start)):
	}
	c.Start(t)
	select {
	case err := <-connected:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Connect did not return once the server was up")
	}
	require.GreaterOrEqual(t, time.Since(start), 3*time.Second)
	for _, db := range reg.Databases() {
		require.Equal(t, 1, status(t, db).RefCount, "%s: one count, from the attempt that succeeded", db)
	}
	out := logs.String()
	require.NotContains(t, out, "retry-s3cret")
	require.Contains(t, out, `msg="dbactor: connected" attempts=`)
	require.NoError(t, reg.Disconnect(ctx))
}

// TestConnectRetryPermanentFailure: a database that does not exist fails
// at once — retrying would never help — and the others are rolled back.
func TestConnectRetryPermanentFailure(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	var logs lockedBuffer
	reg := newRegistry(t, sys, registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"missing": withDatabase(t, testdb.PostgresDSN(t), "dbactor_no_such_database")},
	}, registry.WithConnectRetry(), registry.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := testCtx(t)
	err := reg.Connect(ctx)
	require.ErrorIs(t, err, registry.ErrConnectFailed)
	require.NotContains(t, logs.String(), "retrying")
	require.Equal(t, 0, status(t, reg.Database()).RefCount)
}

// TestConnectRetryUntilCtxEnds: against a port nobody listens on, Connect
// keeps trying until its ctx ends, then returns the last failure and the
// reason it stopped.
func TestConnectRetryUntilCtxEnds(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{
		Database: "postgres://postgres@" + testdb.ClosedPort(t) + "/x?sslmode=disable",
	}, registry.WithConnectRetry(), registry.WithLogger(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err := reg.Connect(ctx)
	require.ErrorIs(t, err, registry.ErrConnectFailed)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "gave up waiting for the databases after")
	var ce *registry.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "", ce.Database)
}

// withDatabase is dsn with its database name replaced.
func withDatabase(t *testing.T, dsn, database string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.Path = "/" + database
	return u.String()
}

// TestConnectRetrySQLiteFailsAtOnce: an SQLite file that cannot be opened
// will not appear by waiting; Connect returns its failure at once.
func TestConnectRetrySQLiteFailsAtOnce(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{
		Database: "sqlite:///" + filepath.Join(t.TempDir(), "missing", "app.db") + "?mode=rw",
	}, registry.WithConnectRetry(), registry.WithLogger(nil))
	err := reg.Connect(testCtx(t))
	require.ErrorIs(t, err, registry.ErrConnectFailed)
	require.NotContains(t, err.Error(), "gave up waiting")
}

// TestServeAnswersProbesWhileWaiting: with WithConnectRetry and
// WithHealthHandler, the server answers at once — alive, not ready, the
// application's routes 503 — while Connect waits for a server that comes
// up later; then it serves the application.
func TestServeAnswersProbesWhileWaiting(t *testing.T) {
	c := testdb.StartCluster(t, testdb.ClusterOptions{})
	c.Stop(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: c.DSN("") + "&connect_timeout=1"},
		registry.WithConnectRetry(), registry.WithLogger(nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "app") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- registry.Serve(ctx, reg, &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln, registry.WithHealthHandler(""))
	}()

	get := func(path string) (int, string, string) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
	}
	code, _, _ := get("/livez")
	require.Equal(t, http.StatusOK, code, "alive while waiting")
	code, _, _ = get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, "not ready while waiting")
	code, retry, _ := get("/app")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "1", retry)

	c.Start(t)
	require.Eventually(t, func() bool { code, _, _ := get("/readyz"); return code == http.StatusOK }, 30*time.Second, 10*time.Millisecond)
	code, _, body := get("/app")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "app", body)
	require.Equal(t, 1, status(t, reg.Database()).RefCount, "Serve's own count")
	cancel()
	require.NoError(t, <-served)
	require.Equal(t, 0, status(t, reg.Database()).RefCount, "given back")
}

// TestConnectQueuedBehindDisconnect: a Connect queued behind a Disconnect
// that waits for its pool's close (a handler still holds a connection for
// 1.5 s) still gets its connect_timeout for the server, which is up: it
// succeeds once the pool has closed.
func TestConnectQueuedBehindDisconnect(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{
		Database: testdb.NewPostgresDatabase(t) + "&connect_timeout=1",
		Extra:    map[string]string{"side": backends[0].url(t)},
	}, registry.WithLogger(nil))
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	held, err := reg.Database().Pool().Acquire(ctx)
	require.NoError(t, err)
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	disconnected := make(chan error, 1)
	go func() { disconnected <- reg.Disconnect(dctx) }()
	// The database actor is closing the pool: it waits for the connection.
	require.Eventually(t, func() bool { return reg.Database().Pool() == nil }, 10*time.Second, time.Millisecond)
	release := time.AfterFunc(1500*time.Millisecond, held.Release)
	defer release.Stop()
	require.NoError(t, reg.Connect(ctx), "the server was up the whole time")
	require.NoError(t, <-disconnected)
	require.NoError(t, reg.Disconnect(ctx))
}

// TestConnectRetryCutShort: against a server that accepts and never
// answers, the attempt under way when ctx ends is cut short; the error
// says Connect gave up and carries the attempt before it — a timeout.
func TestConnectRetryCutShort(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	addr := testdb.Blackhole(t)
	reg := newRegistry(t, sys, registry.Config{
		Database: "postgres://postgres@" + addr + "/x?sslmode=disable&connect_timeout=1",
	}, registry.WithConnectRetry(), registry.WithLogger(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 1800*time.Millisecond)
	defer cancel()
	err := reg.Connect(ctx)
	require.ErrorIs(t, err, registry.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "gave up waiting for the databases after")
	require.Contains(t, err.Error(), "; the last: dbactor: connect main database: no answer from "+addr+" within ", "an attempt's own failure, not the cancellation")
}
