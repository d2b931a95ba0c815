package autogen_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/autogen"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// backend makes database URLs of one dialect for a test.
type backend struct {
	name string
	url  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "db.sqlite") }},
	{"postgres", func(t *testing.T) string { return testdb.NewPostgresDatabase(t) }},
}

func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newRegistry builds a connected registry, closed when the test ends.
func newRegistry(t *testing.T, cfg registry.Config) *registry.Registry {
	t.Helper()
	reg, err := registry.New(testdb.ActorSystem(t), cfg, registry.WithLogger(nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	require.NoError(t, reg.Connect(testCtx(t)))
	return reg
}

// apply runs stmts as a migration runner would: in one transaction, or,
// for a NoTransaction change, one after the other on one connection.
func apply(t *testing.T, db *sql.DB, noTx bool, stmts []string) {
	t.Helper()
	ctx := testCtx(t)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	if noTx {
		for _, s := range stmts {
			_, err := conn.ExecContext(ctx, s)
			require.NoError(t, err, s)
		}
		return
	}
	tx, err := conn.BeginTx(ctx, nil)
	require.NoError(t, err)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			_ = tx.Rollback()
			require.NoError(t, err, s)
		}
	}
	require.NoError(t, tx.Commit())
}

// applyUp applies the Up statements of every change to its database.
func applyUp(t *testing.T, reg *registry.Registry, cs []autogen.Change) {
	t.Helper()
	for _, c := range cs {
		apply(t, dbOf(t, reg, c.Database).DB(), c.NoTransaction, c.Up)
	}
}

// applyDown applies the Down statements, last change first.
func applyDown(t *testing.T, reg *registry.Registry, cs []autogen.Change) {
	t.Helper()
	for i := len(cs) - 1; i >= 0; i-- {
		apply(t, dbOf(t, reg, cs[i].Database).DB(), cs[i].NoTransaction, cs[i].Down)
	}
}

func dbOf(t *testing.T, reg *registry.Registry, name string) *registry.Database {
	t.Helper()
	if name == "" {
		return reg.Database()
	}
	db, err := reg.Extra(name)
	require.NoError(t, err)
	return db
}

// diff is autogen.Diff that must succeed.
func diff(t *testing.T, reg *registry.Registry, opts ...autogen.Option) []autogen.Change {
	t.Helper()
	cs, err := autogen.Diff(testCtx(t), reg, opts...)
	require.NoError(t, err)
	return cs
}

// requireEmpty fails with the statements of a diff that should be empty.
func requireEmpty(t *testing.T, cs []autogen.Change) {
	t.Helper()
	for _, c := range cs {
		t.Errorf("unexpected change on %q schema %q: %q", c.Database, c.Schema, c.Up)
	}
}
