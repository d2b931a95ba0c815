package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
	}
	testdb.VerifyNoLeaks(m)
}

// openURL opens a database URL the way the database actor does.
func openURL(t *testing.T, url string) *DB {
	t.Helper()
	cfg, err := dsn.Parse(url)
	require.NoError(t, err)
	d, err := Open(cfg.SQLite)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, d.SQL().PingContext(context.Background()))
	return d
}

// openFile opens (creating) the database file path, an absolute path.
func openFile(t *testing.T, path string) *DB {
	t.Helper()
	return openURL(t, "sqlite:///"+path)
}

// newFileDB opens a new database file in a fresh temporary directory.
func newFileDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.db")
	return openFile(t, path), path
}

func newMemoryDB(t *testing.T) *DB {
	t.Helper()
	return openURL(t, "sqlite://")
}

// eachKind runs f on a file database and on a memory database.
func eachKind(t *testing.T, f func(t *testing.T, d *DB)) {
	t.Run("file", func(t *testing.T) {
		d, _ := newFileDB(t)
		f(t, d)
	})
	t.Run("memory", func(t *testing.T) { f(t, newMemoryDB(t)) })
}

// holdConns takes n connections of the pool at once, so they are n
// different connections, and returns them with their driver connections.
func holdConns(t *testing.T, db *sql.DB, n int) ([]*sql.Conn, []*conn) {
	t.Helper()
	ctx := context.Background()
	scs := make([]*sql.Conn, n)
	dcs := make([]*conn, n)
	for i := range scs {
		sc, err := db.Conn(ctx)
		require.NoError(t, err)
		scs[i] = sc
		require.NoError(t, sc.Raw(func(dc any) error { dcs[i] = dc.(*conn); return nil }))
	}
	for i := range dcs {
		for j := range i {
			require.NotSame(t, dcs[i], dcs[j], "connections %d and %d are the same", i, j)
		}
	}
	return scs, dcs
}

func release(t *testing.T, scs []*sql.Conn) {
	t.Helper()
	for _, sc := range scs {
		require.NoError(t, sc.Close())
	}
}

// attachedOn lists the attached databases of one connection, main and temp
// left out, sorted.
func attachedOn(t *testing.T, sc *sql.Conn) []string {
	t.Helper()
	rows, err := sc.QueryContext(context.Background(), "SELECT name FROM pragma_database_list WHERE name NOT IN ('main', 'temp')")
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	slices.Sort(names)
	return names
}

// schemaFiles lists the schema files in the schema directory of path.
func schemaFiles(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(path + ".schemas")
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), fileSuffix) {
			files = append(files, e.Name())
		}
	}
	return files
}

// count runs a count query on q.
func count(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, q.QueryRowContext(context.Background(), query, args...).Scan(&n))
	return n
}

// openForBench opens the file database path without a *testing.T.
func openForBench(path string) (*DB, error) {
	cfg, err := dsn.Parse("sqlite:///" + path)
	if err != nil {
		return nil, err
	}
	return Open(cfg.SQLite)
}
