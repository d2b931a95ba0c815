package testdb_test

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// connect opens a connection with a bounded context and closes it at cleanup.
func connect(t *testing.T, dsn string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn, nil
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	require.NoError(t, conn.QueryRow(ctx, sql).Scan(&n))
	return n
}

// recordingTB stands in for a test to observe Skip and Fatal, which here
// record their message and return instead of ending the goroutine.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Helper()                      {}
func (r *recordingTB) Skip(args ...any)             { r.skipped = fmt.Sprint(args...) }
func (r *recordingTB) Skipf(f string, args ...any)  { r.skipped = fmt.Sprintf(f, args...) }
func (r *recordingTB) Fatal(args ...any)            { r.fatal = fmt.Sprint(args...) }
func (r *recordingTB) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }

func TestPostgresDSNUnavailable(t *testing.T) {
	cases := []struct {
		name      string
		dsn       string
		ci        string
		wantSkip  bool
		wantFatal bool
	}{
		{name: "unset locally skips", dsn: "", ci: "", wantSkip: true},
		{name: "unset under CI fails", dsn: "", ci: "true", wantFatal: true},
		{name: "unreachable locally skips", dsn: "closed", ci: "false", wantSkip: true},
		{name: "unreachable under CI fails", dsn: "closed", ci: "true", wantFatal: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn
			if dsn == "closed" {
				dsn = "postgres://postgres@" + testdb.ClosedPort(t) + "/test?sslmode=disable"
			}
			t.Setenv(testdb.EnvDSN, dsn)
			t.Setenv("CI", tc.ci)

			rec := &recordingTB{TB: t}
			got := testdb.PostgresDSN(rec)
			require.Empty(t, got)
			if tc.wantSkip {
				require.Contains(t, rec.skipped, "DBACTOR_TEST_DATABASE")
				require.Empty(t, rec.fatal)
			}
			if tc.wantFatal {
				require.Contains(t, rec.fatal, "DBACTOR_TEST_DATABASE")
				require.Empty(t, rec.skipped)
			}
		})
	}
}

func TestPostgresDSNInvalidFails(t *testing.T) {
	t.Setenv(testdb.EnvDSN, "postgres://[broken")
	t.Setenv("CI", "")
	rec := &recordingTB{TB: t}
	require.Empty(t, testdb.PostgresDSN(rec))
	require.Contains(t, rec.fatal, "DBACTOR_TEST_DATABASE")
	require.Empty(t, rec.skipped)
}

func TestPostgresDSN(t *testing.T) {
	dsn := testdb.PostgresDSN(t)
	conn, err := connect(t, dsn)
	require.NoError(t, err)
	require.Equal(t, 1, queryInt(t, conn, "SELECT 1"))
}

func TestNewPostgresDatabase(t *testing.T) {
	base := testdb.PostgresDSN(t)
	var names []string
	t.Run("isolated", func(t *testing.T) {
		for range 2 {
			dsn := testdb.NewPostgresDatabase(t)
			conn, err := connect(t, dsn)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var name string
			require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&name))
			require.NotContains(t, names, name)
			names = append(names, name)
			// Empty and writable; the connection stays open to show that
			// the cleanup drops the database WITH (FORCE).
			require.Equal(t, 0, queryInt(t, conn,
				"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
			_, err = conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY)")
			require.NoError(t, err)
		}
	})
	require.Len(t, names, 2)

	conn, err := connect(t, base)
	require.NoError(t, err)
	for _, name := range names {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
		cancel()
		require.NoError(t, err)
		require.Zero(t, n, "database %s should have been dropped", name)
	}
}

func TestStartClusterPassword(t *testing.T) {
	t.Parallel()
	const password = "s3cret 'quoted' p@ss"
	c := testdb.StartCluster(t, testdb.ClusterOptions{Password: password})
	require.NotZero(t, c.Port)
	require.DirExists(t, c.DataDir)
	port, dataDir := c.Port, c.DataDir

	conn, err := connect(t, c.DSN(password))
	require.NoError(t, err)
	require.Equal(t, 1, queryInt(t, conn, "SELECT 1"))
	require.NoError(t, conn.Close(context.Background()))

	_, err = connect(t, c.DSN("wrong"))
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "28P01", pgErr.Code) // invalid_password

	_, err = connect(t, c.DSN(""))
	require.Error(t, err, "TCP logins need the password")

	c.Stop(t)
	_, err = connect(t, c.DSN(password))
	require.Error(t, err)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)

	c.Start(t)
	require.Equal(t, port, c.Port)
	require.Equal(t, dataDir, c.DataDir)
	conn, err = connect(t, c.DSN(password))
	require.NoError(t, err)
	require.Equal(t, 1, queryInt(t, conn, "SELECT 1"))
}

func TestStartClusterTrust(t *testing.T) {
	t.Parallel()
	c := testdb.StartCluster(t, testdb.ClusterOptions{})
	conn, err := connect(t, c.DSN(""))
	require.NoError(t, err)
	require.Equal(t, 1, queryInt(t, conn, "SELECT 1"))
	require.FileExists(t, c.LogFile)

	// Stop and Start are idempotent.
	c.Stop(t)
	c.Stop(t)
	c.Start(t)
	c.Start(t)
	conn, err = connect(t, c.DSN("anything"))
	require.NoError(t, err, "trust auth ignores the password")
	require.Equal(t, 1, queryInt(t, conn, "SELECT 1"))
}

func TestStartClusterCleanupRemovesEverything(t *testing.T) {
	t.Parallel()
	var c *testdb.Cluster
	t.Run("cluster", func(t *testing.T) {
		c = testdb.StartCluster(t, testdb.ClusterOptions{})
	})
	require.NoDirExists(t, c.DataDir)
	require.NoDirExists(t, c.SocketDir)
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(c.Port)), 2*time.Second)
	if err == nil {
		_ = conn.Close()
	}
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "server should be stopped")
}

func TestBlackhole(t *testing.T) {
	t.Parallel()
	addr := testdb.Blackhole(t)

	// A raw connection is accepted but nothing ever arrives.
	raw, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer raw.Close()
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	n, err := raw.Read(make([]byte, 1))
	require.Zero(t, n)
	var netErr net.Error
	require.ErrorAs(t, err, &netErr)
	require.True(t, netErr.Timeout(), "read should time out, got %v", err)

	// A PostgreSQL client times out on its context instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = pgx.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	elapsed := time.Since(start)
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, elapsed, 5*time.Second)
}

func TestClosedPort(t *testing.T) {
	t.Parallel()
	addr := testdb.ClosedPort(t)
	for range 3 {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = conn.Close()
		}
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.NoError(t, ctx.Err(), "refusal should be immediate")
}
