package atlasx_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/dbactor/dbactor/internal/atlasx"
	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/models"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

func memDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+t.Name()+"?mode=memory&cache=shared")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// An attached SQLite schema is inspected through its CREATE statements, its
// foreign keys pointing at its own tables.
func TestSQLiteAttached(t *testing.T) {
	ctx := context.Background()
	db := memDB(t)
	for _, s := range []string{
		`ATTACH ':memory:' AS "ten"`,
		`CREATE TABLE "ten"."a" (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE "ten"."b" (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id), x TEXT)`,
		`CREATE INDEX "ten"."b_x" ON "b" (x)`,
		`CREATE TABLE "main"."b" (other TEXT)`,
	} {
		_, err := db.ExecContext(ctx, s)
		require.NoError(t, err, s)
	}
	s, ok, err := atlasx.Live(ctx, db, dsn.SQLite, "ten", nil)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "ten", s.Name)
	b, found := s.Table("b")
	require.True(t, found)
	require.Len(t, b.Columns, 3, "ten.b, not main.b")
	require.Len(t, b.ForeignKeys, 1)
	a, _ := s.Table("a")
	require.Same(t, a, b.ForeignKeys[0].RefTable)
	_, hasIdx := b.Index("b_x")
	require.True(t, hasIdx)

	only, _, err := atlasx.Live(ctx, db, dsn.SQLite, "ten", []string{"a"})
	require.NoError(t, err)
	require.Len(t, only.Tables, 1)

	_, ok, err = atlasx.Live(ctx, db, dsn.SQLite, "nope", nil)
	require.NoError(t, err)
	require.False(t, ok)

	_, _, err = atlasx.Live(ctx, db, dsn.SQLite, "ten", []string{"it's"})
	require.ErrorIs(t, err, atlasx.ErrName)
}

type thing struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name,index"`
}

func TestSQLiteModels(t *testing.T) {
	def, err := models.FromStruct(thing{})
	require.NoError(t, err)
	m, err := models.New(def)
	require.NoError(t, err)
	s, err := atlasx.Models(context.Background(), nil, dsn.SQLite, "main", []*models.Model{m})
	require.NoError(t, err)
	tb, ok := s.Table("things")
	require.True(t, ok)
	require.Len(t, tb.Columns, 2)
	require.Len(t, tb.Indexes, 1)
}
