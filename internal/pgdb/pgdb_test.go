package pgdb_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/pgdb"
	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// cutWhileRunning starts stmt on db through a proxy, cuts the connection
// while the server runs it, waits until the server has committed it, and
// returns how many rows the table holds and the statement's error.
func cutWhileRunning(t *testing.T, open func(*pgxpool.Pool) *sql.DB, stmt string) (int, error) {
	dsn := testdb.NewPostgresDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer admin.Close()
	_, err = admin.Exec(ctx, "CREATE TABLE t (v int)")
	require.NoError(t, err)

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	proxy := testdb.StartProxy(t, u.Host)
	pool, err := pgxpool.New(ctx, proxy.DSN(t, dsn))
	require.NoError(t, err)
	defer pool.Close()
	db := open(pool)
	defer db.Close()

	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, stmt)
		done <- err
	}()
	require.Eventually(t, func() bool {
		var n int
		_ = admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'", stmt).Scan(&n)
		return n == 1
	}, 20*time.Second, 5*time.Millisecond, "the statement runs on the server")
	proxy.Cut()
	err = <-done
	// The server finishes the statement it was running, whoever listens.
	require.Eventually(t, func() bool {
		var n int
		_ = admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'", stmt).Scan(&n)
		return n == 0
	}, 20*time.Second, 5*time.Millisecond)
	var rows int
	require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&rows))
	return rows, err
}

const insert = "INSERT INTO t SELECT 1 FROM pg_sleep(0.3)"

// TestNoRetryAfterCut: a statement cut off mid-run fails with ErrConnLost
// and is not run again. (The server may still commit or abort the one it
// was running: at most one row.) Plain stdlib.OpenDBFromPool answers nil
// here, having run the INSERT a second time on another connection.
func TestNoRetryAfterCut(t *testing.T) {
	rows, err := cutWhileRunning(t, pgdb.OpenDB, insert)
	require.ErrorIs(t, err, pgdb.ErrConnLost)
	require.False(t, errors.Is(err, driver.ErrBadConn), "not a retryable error")
	require.LessOrEqual(t, rows, 1, "never executed twice")
}

// A statement on a healthy connection works as with stdlib.
func TestOpenDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, testdb.PostgresDSN(t))
	require.NoError(t, err)
	defer pool.Close()
	db := pgdb.OpenDB(pool)
	defer db.Close()
	var v int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT $1::int + 1", 41).Scan(&v))
	require.Equal(t, 42, v)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "SELECT 1")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
}
