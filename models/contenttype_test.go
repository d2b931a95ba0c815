package models

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
)

// contentTypes is the content-type model.
func contentTypes(t *testing.T) *Model {
	t.Helper()
	ct, err := New(ContentTypeDef())
	require.NoError(t, err)
	return ct
}

// Edgy's ContentType: an auto id, name, schema_name and a unique
// collision_key, in contenttypes, without a content type of its own.
func TestContentTypeDef(t *testing.T) {
	ct := contentTypes(t)
	require.Equal(t, ContentTypeModel, ct.Name())
	require.Equal(t, ContentTypeTable, ct.Table())
	require.True(t, ct.NoContentType())
	_, has := ct.Column(ContentTypeColumn)
	require.False(t, has)
	var names []string
	for _, c := range ct.Columns() {
		names = append(names, c.GetName())
	}
	require.Equal(t, []string{"id", "name", "schema_name", "collision_key"}, names)
	id, _ := ct.Column("id")
	require.True(t, id.GetPrimaryKey() && id.GetAutoIncrement())
	key, _ := ct.Column("collision_key")
	require.True(t, key.GetUnique() && key.GetNullable())
	require.NotSame(t, ContentTypeDef(), ContentTypeDef(), "a new definition each time")
}

// Content-type rows on each target: written to the schema passed and only
// there, read back by id; a duplicate collision key is refused, a missing
// id is sql.ErrNoRows; hostile names and keys are values, never SQL.
func TestContentTypeRows(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		ctx := t.Context()
		ct := contentTypes(t)
		tg.mustExec(t, ct.CreateTableSQL(tg.dialect, tg.schema, false)...)
		require.Equal(t, []string{tg.home}, tg.objectIn(t, "table", ContentTypeTable))

		id, err := NewContentType(ctx, tg.rows, tg.dialect, ct, tg.schema, "Company", "")
		require.NoError(t, err)
		row, err := ContentTypeByID(ctx, tg.rows, tg.dialect, ct, tg.schema, id)
		require.NoError(t, err)
		require.Equal(t, ContentTypeRow{ID: id, Name: "Company", SchemaName: sql.NullString{String: tg.schema, Valid: tg.schema != ""}}, row)

		keyed, err := NewContentType(ctx, tg.rows, tg.dialect, ct, tg.schema, "Company", "k1")
		require.NoError(t, err)
		require.NotEqual(t, id, keyed)
		_, err = NewContentType(ctx, tg.rows, tg.dialect, ct, tg.schema, "Company", "k1")
		require.Error(t, err, "collision_key is unique")

		_, err = ContentTypeByID(ctx, tg.rows, tg.dialect, ct, tg.schema, keyed+1000)
		require.ErrorIs(t, err, sql.ErrNoRows)

		for _, odd := range []string{`x'); DROP TABLE contenttypes; --`, `a"b;c`, "日本", "$1 ?"} {
			id, err := NewContentType(ctx, tg.rows, tg.dialect, ct, tg.schema, odd, odd)
			require.NoError(t, err)
			row, err := ContentTypeByID(ctx, tg.rows, tg.dialect, ct, tg.schema, id)
			require.NoError(t, err)
			require.Equal(t, odd, row.Name)
			require.Equal(t, odd, row.CollisionKey.String)
		}
		var n int
		require.NoError(t, tg.queryRow(t, "SELECT count(*) FROM "+ct.qt(tg.schema)).Scan(&n))
		require.Equal(t, 6, n)
		require.Equal(t, []string{tg.home}, tg.objectIn(t, "table", ContentTypeTable), "nothing elsewhere")
	})
}

// Arguments that cannot work fail before any SQL: a nil RowQuerier, or a
// typed nil one (the *sql.DB of a database not connected), matches
// messages.ErrInvalidArgument, without a panic; no content-type model
// matches messages.ErrUnknownModel; an invalid schema
// messages.ErrInvalidName.
func TestContentTypeArguments(t *testing.T) {
	ctx := context.Background()
	ct := contentTypes(t)
	for _, q := range []RowQuerier{nil, (*sql.DB)(nil), (*sql.Tx)(nil), (*sql.Conn)(nil)} {
		require.NotPanics(t, func() {
			_, err := NewContentType(ctx, q, dsn.SQLite, ct, "", "Company", "")
			require.ErrorIs(t, err, messages.ErrInvalidArgument)
			_, err = ContentTypeByID(ctx, q, dsn.Postgres, ct, "", 1)
			require.ErrorIs(t, err, messages.ErrInvalidArgument)
		})
	}
	db := new(sql.DB) // never used: the arguments fail first
	_, err := NewContentType(ctx, db, dsn.SQLite, nil, "", "Company", "")
	require.ErrorIs(t, err, messages.ErrUnknownModel)
	_, err = ContentTypeByID(ctx, db, dsn.SQLite, nil, "", 1)
	require.ErrorIs(t, err, messages.ErrUnknownModel)
	for _, bad := range []string{"tenant_a\x00evil", strings.Repeat("t", 64)} {
		_, err := NewContentType(ctx, db, dsn.SQLite, ct, bad, "Company", "")
		require.ErrorIs(t, err, messages.ErrInvalidName, "%q", bad)
		_, err = ContentTypeByID(ctx, db, dsn.Postgres, ct, bad, 1)
		require.ErrorIs(t, err, messages.ErrInvalidName, "%q", bad)
	}
}

func TestPlaceholders(t *testing.T) {
	require.Equal(t, "$1, $2, $3", placeholders(dsn.Postgres, 3))
	require.Equal(t, "?, ?, ?", placeholders(dsn.SQLite, 3))
	require.Equal(t, "$1", placeholders(dsn.Postgres, 1))
}

// A custom content-type model: the standard columns plus extras.
type customContentType struct {
	ID           int64   `db:"id,pk"`
	Name         string  `db:"name,size=100,index"`
	SchemaName   *string `db:"schema_name"`
	CollisionKey *string `db:"collision_key,unique"`
	App          *string `db:"app"`
	Weight       int64   `db:"weight,default=1"`
}

func TestContentTypeFrom(t *testing.T) {
	def, err := FromStruct(customContentType{}, Table("my_contenttypes"), Schema("elsewhere"))
	require.NoError(t, err)
	m, err := New(def)
	require.NoError(t, err)
	ct, err := ContentTypeFrom(m)
	require.NoError(t, err)
	require.Equal(t, ContentTypeModel, ct.Name())
	require.Equal(t, "my_contenttypes", ct.Table())
	require.True(t, ct.NoContentType())
	require.Empty(t, ct.Schema(), "content types live in the registry's schema")
	_, ok := ct.Column("app")
	require.True(t, ok)

	// The standard definition is a valid one.
	std, err := New(ContentTypeDef())
	require.NoError(t, err)
	_, err = ContentTypeFrom(std)
	require.NoError(t, err)

	// Missing or wrong standard columns, an extra column NewContentType
	// could not fill: every problem at once.
	type bad struct {
		ID         string `db:"id,pk"`
		Name       *string
		SchemaName string
		Required   int64
	}
	bdef, err := FromStruct(bad{})
	require.NoError(t, err)
	bm, err := New(bdef)
	require.NoError(t, err)
	_, err = ContentTypeFrom(bm)
	require.ErrorIs(t, err, ErrInvalidModel)
	for _, want := range []string{`column "id"`, `column "name"`, `column "schema_name"`, `column "collision_key"`, `column "required"`} {
		require.ErrorContains(t, err, want)
	}
	_, err = ContentTypeFrom(nil)
	require.ErrorIs(t, err, ErrInvalidModel)
}
