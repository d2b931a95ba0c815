package dsn

import (
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

const defaultPragmas = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"

func TestParseSQLiteForms(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want SQLiteConfig
	}{
		{"memory bare", "sqlite://", SQLiteConfig{DSN: "file::memory:?" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"memory slash", "sqlite:///", SQLiteConfig{DSN: "file::memory:?" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"memory explicit", "sqlite:///:memory:", SQLiteConfig{DSN: "file::memory:?" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"memory aiosqlite", "sqlite+aiosqlite://", SQLiteConfig{DSN: "file::memory:?" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"memory pool_size ignored", "sqlite://?pool_size=5", SQLiteConfig{DSN: "file::memory:?" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"relative", "sqlite:///relative.db", SQLiteConfig{DSN: "file:relative.db?" + defaultPragmas, Path: "relative.db"}},
		{"relative dir", "sqlite:///data/app.db", SQLiteConfig{DSN: "file:data/app.db?" + defaultPragmas, Path: "data/app.db"}},
		{"absolute", "sqlite:////abs/path.db", SQLiteConfig{DSN: "file:///abs/path.db?" + defaultPragmas, Path: "/abs/path.db"}},
		{"aiosqlite", "sqlite+aiosqlite:///relative.db", SQLiteConfig{DSN: "file:relative.db?" + defaultPragmas, Path: "relative.db"}},
		{"pysqlite", "sqlite+pysqlite:////abs/path.db", SQLiteConfig{DSN: "file:///abs/path.db?" + defaultPragmas, Path: "/abs/path.db"}},
		{"scheme case", "SQLite:///relative.db", SQLiteConfig{DSN: "file:relative.db?" + defaultPragmas, Path: "relative.db"}},
		{"special chars literal", "sqlite:///a b#c%41.db", SQLiteConfig{DSN: "file:a%20b%23c%2541.db?" + defaultPragmas, Path: "a b#c%41.db"}},
		{"double slash path", "sqlite://///srv/x.db", SQLiteConfig{DSN: "file:////srv/x.db?" + defaultPragmas, Path: "//srv/x.db"}},
		{"registry keys", "sqlite:///x.db?pool_size=4&max_overflow=2&echo=1&echo_pool=0&connect_timeout=3&pool_recycle=60&_pragma=journal_mode(WAL)&mode=rwc",
			SQLiteConfig{DSN: "file:x.db?_pragma=journal_mode(WAL)&mode=rwc&" + defaultPragmas, Path: "x.db", MaxOpenConns: 6}},
		{"user pragmas win", "sqlite:///x.db?_pragma=busy_timeout(100)&_fk=0", SQLiteConfig{DSN: "file:x.db?_pragma=busy_timeout(100)&_fk=0", Path: "x.db"}},
		{"user pragma spelled", "sqlite:///x.db?_pragma=Foreign_Keys%3D0&_busy_timeout=1", SQLiteConfig{DSN: "file:x.db?_pragma=Foreign_Keys%3D0&_busy_timeout=1", Path: "x.db"}},
		{"form decoded values", "sqlite:///x.db?_txlock=immediate&_pragma=cache_size(-2000)&x=a+b%20c", SQLiteConfig{DSN: "file:x.db?_txlock=immediate&_pragma=cache_size(-2000)&x=a%20b%20c&" + defaultPragmas, Path: "x.db"}},
		{"mode memory", "sqlite:///x.db?mode=memory", SQLiteConfig{DSN: "file:x.db?mode=memory&" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"mode last wins", "sqlite:///x.db?mode=memory&mode=rwc", SQLiteConfig{DSN: "file:x.db?mode=memory&mode=rwc&" + defaultPragmas, Path: "x.db"}},
		{"ssl passes through", "sqlite:///x.db?ssl=true", SQLiteConfig{DSN: "file:x.db?ssl=true&" + defaultPragmas, Path: "x.db"}},
		{"file", "file:app.db?mode=ro", SQLiteConfig{DSN: "file:app.db?mode=ro&" + defaultPragmas, Path: "app.db"}},
		{"file no query", "file:app.db", SQLiteConfig{DSN: "file:app.db?" + defaultPragmas, Path: "app.db"}},
		{"file memory", "file::memory:", SQLiteConfig{DSN: "file::memory:?" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"file mode memory", "file:x?mode=memory", SQLiteConfig{DSN: "file:x?mode=memory&" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"file shared memory", "file:x?mode=memory&cache=shared", SQLiteConfig{DSN: "file:x?mode=memory&cache=shared&" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"file memdb", "file:/x?vfs=memdb", SQLiteConfig{DSN: "file:/x?vfs=memdb&" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"file empty path", "file:", SQLiteConfig{DSN: "file:?" + defaultPragmas, Memory: true, MaxOpenConns: 1}},
		{"file absolute", "file:///abs/x.db", SQLiteConfig{DSN: "file:///abs/x.db?" + defaultPragmas, Path: "/abs/x.db"}},
		{"file localhost", "file://localhost/abs/x.db", SQLiteConfig{DSN: "file://localhost/abs/x.db?" + defaultPragmas, Path: "/abs/x.db"}},
		{"file escaped", "file:we%20ird%3F.db?cache=private", SQLiteConfig{DSN: "file:we%20ird%3F.db?cache=private&" + defaultPragmas, Path: "we ird?.db"}},
		{"file fragment dropped", "file:x.db?mode=ro#frag", SQLiteConfig{DSN: "file:x.db?mode=ro&" + defaultPragmas, Path: "x.db"}},
		{"file registry keys", "file:x.db?cache=shared&echo=true&pool_size=2&_pragma=foreign_keys(0)", SQLiteConfig{DSN: "file:x.db?cache=shared&_pragma=foreign_keys(0)&_pragma=busy_timeout(5000)", Path: "x.db", MaxOpenConns: 2}},
		{"file uppercase url", "FILE:///abs/x.db", SQLiteConfig{DSN: "file:///abs/x.db?" + defaultPragmas, Path: "/abs/x.db"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, SQLite, cfg.Dialect)
			require.Nil(t, cfg.Postgres)
			require.NotNil(t, cfg.SQLite)
			require.Equal(t, tc.want, *cfg.SQLite)
			require.Equal(t, tc.in, cfg.Redacted)
			for _, k := range []string{"echo", "pool_size", "max_overflow", "pool_recycle", "connect_timeout"} {
				require.NotContains(t, cfg.SQLite.DSN, k+"=")
			}
			// Every DSN must be readable by modernc's url.ParseQuery.
			_, q, _ := strings.Cut(cfg.SQLite.DSN, "?")
			_, err = url.ParseQuery(q)
			require.NoError(t, err)
		})
	}
}

func TestParseSQLiteOptions(t *testing.T) {
	cfg, err := Parse("sqlite:///x.db?echo=true&connect_timeout=500ms")
	require.NoError(t, err)
	require.True(t, cfg.Echo)
	require.Equal(t, 500*time.Millisecond, cfg.ConnectTimeout)

	cfg, err = Parse("sqlite:///x.db")
	require.NoError(t, err)
	require.False(t, cfg.Echo)
	require.Equal(t, DefaultConnectTimeout, cfg.ConnectTimeout)
	require.Equal(t, 0, cfg.SQLite.MaxOpenConns)

	cfg, err = Parse("sqlite:///x.db?max_overflow=3")
	require.NoError(t, err)
	require.Equal(t, 0, cfg.SQLite.MaxOpenConns, "max_overflow without pool_size leaves the pool unlimited")
}

// openSQLite opens cfg the way the registry will.
func openSQLite(t *testing.T, cfg *Config) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", cfg.SQLite.DSN)
	require.NoError(t, err)
	db.SetMaxOpenConns(cfg.SQLite.MaxOpenConns)
	require.NoError(t, db.Ping())
	return db
}

func TestSQLiteOpenFile(t *testing.T) {
	dir := t.TempDir()
	// Every character that needs escaping in a file: URI, except '?', which a
	// sqlite:// URL cannot hold (it starts the query, as in SQLAlchemy).
	path := filepath.Join(dir, "we ird#1%41 x.db")
	for _, in := range []string{
		"sqlite:///" + path,
		"sqlite+aiosqlite:///" + path + "?pool_size=2&echo=true",
	} {
		t.Run(in, func(t *testing.T) {
			require.NoError(t, os.RemoveAll(path))
			cfg, err := Parse(in)
			require.NoError(t, err)
			require.Equal(t, path, cfg.SQLite.Path)

			db := openSQLite(t, cfg)
			var busy, fk int
			require.NoError(t, db.QueryRow("PRAGMA busy_timeout").Scan(&busy))
			require.NoError(t, db.QueryRow("PRAGMA foreign_keys").Scan(&fk))
			require.Equal(t, 5000, busy)
			require.Equal(t, 1, fk)
			_, err = db.Exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')")
			require.NoError(t, err)
			require.NoError(t, db.Close())

			_, err = os.Stat(path)
			require.NoError(t, err, "the file must exist under its exact name")

			db = openSQLite(t, cfg)
			defer db.Close()
			var v string
			require.NoError(t, db.QueryRow("SELECT v FROM t").Scan(&v))
			require.Equal(t, "kept", v)
		})
	}
}

func TestSQLiteOpenFileURI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q?x #%.db")
	in := (&url.URL{Scheme: "file", Path: path}).String() + "?_txlock=immediate"
	cfg, err := Parse(in)
	require.NoError(t, err)
	require.Equal(t, path, cfg.SQLite.Path)

	db := openSQLite(t, cfg)
	_, err = db.Exec("CREATE TABLE t (v INTEGER)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = os.Stat(path)
	require.NoError(t, err)
}

func TestSQLiteOpenUserPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	cfg, err := Parse("sqlite:///" + path + "?_pragma=busy_timeout(123)&_pragma=foreign_keys(0)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	db := openSQLite(t, cfg)
	defer db.Close()
	var busy, fk int
	var journal string
	require.NoError(t, db.QueryRow("PRAGMA busy_timeout").Scan(&busy))
	require.NoError(t, db.QueryRow("PRAGMA foreign_keys").Scan(&fk))
	require.NoError(t, db.QueryRow("PRAGMA journal_mode").Scan(&journal))
	require.Equal(t, 123, busy)
	require.Equal(t, 0, fk)
	require.Equal(t, "wal", journal)
}

// TestSQLiteOpenMemory: every sql.Open of a memory DSN gets a fresh, empty
// database, and one sql.DB keeps seeing its own data.
func TestSQLiteOpenMemory(t *testing.T) {
	for _, in := range []string{"sqlite://", "sqlite:///:memory:", "sqlite+aiosqlite://?echo=1", "file::memory:", "file:x?mode=memory"} {
		t.Run(in, func(t *testing.T) {
			cfg, err := Parse(in)
			require.NoError(t, err)
			require.True(t, cfg.SQLite.Memory)
			require.Equal(t, 1, cfg.SQLite.MaxOpenConns)

			db := openSQLite(t, cfg)
			_, err = db.Exec("CREATE TABLE t (v TEXT)")
			require.NoError(t, err)
			for range 3 { // several statements, same single connection
				_, err = db.Exec("INSERT INTO t VALUES ('x')")
				require.NoError(t, err)
			}
			var n int
			require.NoError(t, db.QueryRow("SELECT count(*) FROM t").Scan(&n))
			require.Equal(t, 3, n)

			// A second pool while the first is open is a different database too.
			other := openSQLite(t, cfg)
			require.NoError(t, other.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n))
			require.Zero(t, n)
			require.NoError(t, other.Close())
			require.NoError(t, db.Close())

			db = openSQLite(t, cfg)
			defer db.Close()
			require.NoError(t, db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n))
			require.Zero(t, n, "a reconnect must get a new empty database")
		})
	}
}
