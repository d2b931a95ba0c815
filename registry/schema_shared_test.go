package registry_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// sharedUser is a model for TestSQLiteSchemasOfAnotherRegistry.
type sharedUser struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

// TestSQLiteSchemasOfAnotherRegistry (issue 17, gap 1): two registries on
// one SQLite file, both connected, share nothing but the file. A schema one
// creates is usable in the other at once — no Schemas call, no reconnect —
// and once dropped it is gone there too: a write fails with "no such
// table", not SQLite's raw "attempt to write a readonly database".
func TestSQLiteSchemasOfAnotherRegistry(t *testing.T) {
	ctx := testCtx(t)
	url := "sqlite:///" + filepath.Join(t.TempDir(), "x.db")
	a := newRegistry(t, newSystem(t), registry.Config{Database: url})
	b := newRegistry(t, newSystem(t), registry.Config{Database: url})
	_, err := a.RegisterModel(ctx, sharedUser{}, models.Name("User"))
	require.NoError(t, err)
	require.NoError(t, a.Connect(ctx))
	require.NoError(t, b.Connect(ctx))
	ping(t, b.Database())

	require.NoError(t, a.CreateSchema(ctx, "tenant", registry.WithModels()))
	var n int
	require.NoError(t, b.Database().DB().QueryRowContext(ctx, `SELECT count(*) FROM "tenant"."users"`).Scan(&n))
	require.Zero(t, n)
	_, err = b.Database().DB().ExecContext(ctx, `INSERT INTO "tenant"."users" (name) VALUES ('from b')`)
	require.NoError(t, err)
	require.NoError(t, a.Database().DB().QueryRowContext(ctx, `SELECT count(*) FROM "tenant"."users"`).Scan(&n))
	require.Equal(t, 1, n)

	require.NoError(t, a.DropSchema(ctx, "tenant", registry.Cascade()))
	_, err = b.Database().DB().ExecContext(ctx, `INSERT INTO "tenant"."users" (name) VALUES ('late')`)
	require.ErrorContains(t, err, "no such table: tenant.users")
	require.NotContains(t, err.Error(), "readonly")
	err = b.Database().DB().QueryRowContext(ctx, `SELECT count(*) FROM "tenant"."users"`).Scan(&n)
	require.ErrorContains(t, err, "no such table: tenant.users")
}
