package introspect_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/introspect"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type backend struct {
	name string
	url  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "db.sqlite") }},
	{"postgres", func(t *testing.T) string { return testdb.NewPostgresDatabase(t) }},
}

func newRegistry(t *testing.T, url string) *registry.Registry {
	t.Helper()
	reg, err := registry.New(testdb.ActorSystem(t), registry.Config{Database: url}, registry.WithLogger(nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	require.NoError(t, reg.Connect(testCtx(t)))
	return reg
}

func exec(t *testing.T, reg *registry.Registry, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := reg.Database().DB().ExecContext(testCtx(t), s)
		require.NoError(t, err, s)
	}
}

// handMade is the DDL of two tables written by hand, in schema q (a quoted
// qualifier with its dot, or "").
func handMade(dialect, q string) []string {
	if dialect == "postgres" {
		return []string{
			`CREATE TABLE ` + q + `orgs (id serial PRIMARY KEY, name varchar(80) NOT NULL UNIQUE, note text)`,
			`CREATE TABLE ` + q + `members (
				org_id integer NOT NULL REFERENCES ` + q + `orgs (id) ON DELETE CASCADE,
				user_name text NOT NULL,
				score double precision,
				ratio real,
				joined timestamptz NOT NULL DEFAULT now(),
				active boolean NOT NULL DEFAULT true,
				data jsonb, uid uuid, born date, pic bytea, amount numeric(10,2),
				small smallint NOT NULL DEFAULT 0, big bigint,
				PRIMARY KEY (org_id, user_name))`,
			`CREATE INDEX members_score ON ` + q + `members (score)`,
		}
	}
	return []string{
		`CREATE TABLE ` + q + `orgs (id INTEGER PRIMARY KEY, name VARCHAR(80) NOT NULL UNIQUE, note TEXT)`,
		`CREATE TABLE ` + q + `members (
			org_id INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
			user_name TEXT NOT NULL,
			score DOUBLE,
			ratio REAL,
			joined DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
			active BOOLEAN NOT NULL DEFAULT (true),
			data JSON, uid UUID, born DATE, pic BLOB, amount NUMERIC(10,2),
			small SMALLINT NOT NULL DEFAULT 0, big BIGINT,
			PRIMARY KEY (org_id, user_name))`,
		`CREATE INDEX ` + q + `members_score ON members (score)`,
	}
}

func col(t *testing.T, m *models.Model, name string) *messages.ColumnDef {
	t.Helper()
	c, ok := m.Column(name)
	require.True(t, ok, name)
	return c
}

// TestHandMadeTables reflects tables created with raw SQL, in the default
// schema and in a tenant schema, on both dialects, field by field; then a
// reflected model's CreateTableSQL makes a table that reflects the same.
func TestHandMadeTables(t *testing.T) {
	for _, b := range backends {
		for _, tenant := range []string{"", "tenant_a"} {
			t.Run(b.name+"/"+map[bool]string{true: "default", false: "tenant"}[tenant == ""], func(t *testing.T) {
				ctx := testCtx(t)
				reg := newRegistry(t, b.url(t))
				q := ""
				if tenant != "" {
					require.NoError(t, reg.CreateSchema(ctx, tenant))
					q = `"` + tenant + `".`
				}
				exec(t, reg, handMade(b.name, q)...)
				db := reg.Database()

				orgs, err := introspect.Table(ctx, db, tenant, "orgs", introspect.Name("Org"))
				require.NoError(t, err)
				require.Equal(t, "Org", orgs.Name())
				require.Equal(t, "orgs", orgs.Table())
				require.Equal(t, "", orgs.Schema())
				require.Len(t, orgs.Columns(), 3)
				id := col(t, orgs, "id")
				require.True(t, id.GetPrimaryKey())
				require.True(t, id.GetAutoIncrement())
				require.False(t, id.GetNullable())
				name := col(t, orgs, "name")
				require.Equal(t, messages.ColumnType_COLUMN_TYPE_TEXT, name.GetType())
				require.EqualValues(t, 80, name.GetMaxLength())
				require.True(t, name.GetUnique())
				require.False(t, name.GetNullable())
				require.True(t, col(t, orgs, "note").GetNullable())

				mem, err := introspect.Table(ctx, db, tenant, "members")
				require.NoError(t, err)
				require.Equal(t, "members", mem.Name())
				want := map[string]messages.ColumnType{
					"user_name": messages.ColumnType_COLUMN_TYPE_TEXT,
					"score":     messages.ColumnType_COLUMN_TYPE_DOUBLE,
					"joined":    messages.ColumnType_COLUMN_TYPE_TIMESTAMP,
					"active":    messages.ColumnType_COLUMN_TYPE_BOOLEAN,
					"data":      messages.ColumnType_COLUMN_TYPE_JSON,
					"uid":       messages.ColumnType_COLUMN_TYPE_UUID,
					"born":      messages.ColumnType_COLUMN_TYPE_DATE,
					"pic":       messages.ColumnType_COLUMN_TYPE_BYTES,
					"amount":    messages.ColumnType_COLUMN_TYPE_NUMERIC,
					"small":     messages.ColumnType_COLUMN_TYPE_SMALLINT,
					"big":       messages.ColumnType_COLUMN_TYPE_BIGINT,
				}
				if b.name == "postgres" {
					want["org_id"] = messages.ColumnType_COLUMN_TYPE_INTEGER
					want["ratio"] = messages.ColumnType_COLUMN_TYPE_REAL
				} else {
					want["org_id"] = messages.ColumnType_COLUMN_TYPE_BIGINT // SQLite: INTEGER is 64-bit
					want["ratio"] = messages.ColumnType_COLUMN_TYPE_DOUBLE  // SQLite: REAL is 8 bytes
				}
				for n, ct := range want {
					require.Equal(t, ct, col(t, mem, n).GetType(), n)
				}
				org := col(t, mem, "org_id")
				require.True(t, org.GetPrimaryKey())
				require.False(t, org.GetAutoIncrement(), "composite key: no auto-increment")
				require.Equal(t, "orgs", org.GetReferencesTable())
				require.Equal(t, "id", org.GetReferencesColumn())
				require.Equal(t, "CASCADE", org.GetOnDelete())
				require.True(t, col(t, mem, "user_name").GetPrimaryKey())
				require.True(t, col(t, mem, "score").GetIndex())
				require.True(t, col(t, mem, "score").GetNullable())
				require.False(t, col(t, mem, "joined").GetNullable())
				require.NotEmpty(t, col(t, mem, "joined").GetDefaultSql())
				require.Contains(t, strings.ToLower(col(t, mem, "active").GetDefaultSql()), "true")
				require.Equal(t, "0", col(t, mem, "small").GetDefaultSql())

				// Round trip: the reflected models' CreateTableSQL, in
				// another schema, reflects to the same definitions.
				other := "copy_" + map[bool]string{true: "d", false: "t"}[tenant == ""]
				require.NoError(t, reg.CreateSchema(ctx, other))
				for _, m := range []*models.Model{orgs, mem} {
					exec(t, reg, m.CreateTableSQL(dsn.Dialect(b.name), other, false)...)
				}
				for _, m := range []*models.Model{orgs, mem} {
					again, err := introspect.Table(ctx, db, other, m.Table(), introspect.Name(m.Name()))
					require.NoError(t, err)
					if b.name == "postgres" && m.Table() == "orgs" {
						// serial became an identity column: both auto-increment.
						require.True(t, col(t, again, "id").GetAutoIncrement())
					}
					want := normal(m.Def())
					if b.name == "sqlite" {
						// CreateTableSQL collapses types on SQLite: VARCHAR(n),
						// JSON and UUID are TEXT, SMALLINT and INTEGER are INTEGER.
						for _, c := range want.Columns {
							c.MaxLength = 0
							switch c.Type {
							case messages.ColumnType_COLUMN_TYPE_JSON, messages.ColumnType_COLUMN_TYPE_UUID:
								c.Type = messages.ColumnType_COLUMN_TYPE_TEXT
							case messages.ColumnType_COLUMN_TYPE_SMALLINT, messages.ColumnType_COLUMN_TYPE_INTEGER:
								c.Type = messages.ColumnType_COLUMN_TYPE_BIGINT
							}
						}
					}
					require.True(t, proto.Equal(want, normal(again.Def())), "%v\n%v", m.Def(), again.Def())
				}
			})
		}
	}
}

// normal drops what a round trip may respell: PostgreSQL's casts in
// defaults ('x'::text) stay, so only the parentheses SQLite keeps go.
func normal(d *messages.ModelDef) *messages.ModelDef {
	d = proto.Clone(d).(*messages.ModelDef)
	for _, c := range d.Columns {
		c.DefaultSql = strings.Trim(c.DefaultSql, "()")
	}
	return d
}

func TestErrors(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := testCtx(t)
			reg := newRegistry(t, b.url(t))
			db := reg.Database()
			_, err := introspect.Table(ctx, db, "", "nope")
			require.ErrorIs(t, err, introspect.ErrNotFound)
			_, err = introspect.Table(ctx, db, "no_schema", "nope")
			require.ErrorIs(t, err, introspect.ErrNotFound)

			odd := "GEOMETRY"
			if b.name == "postgres" {
				odd = "text[]"
			}
			exec(t, reg, `CREATE TABLE odd (id bigint PRIMARY KEY, v `+odd+`)`,
				`CREATE TABLE pair (a bigint NOT NULL, b bigint NOT NULL, c text, PRIMARY KEY (a, b))`,
				`CREATE UNIQUE INDEX pair_b_c ON pair (b, c)`)
			_, err = introspect.Table(ctx, db, "", "odd")
			var te *introspect.TypeError
			require.ErrorAs(t, err, &te)
			require.ErrorIs(t, err, introspect.ErrUnknownType)
			require.Equal(t, "v", te.Column)

			_, err = introspect.Table(ctx, db, "", "pair")
			var ue *introspect.UnsupportedError
			require.ErrorAs(t, err, &ue)
			require.True(t, errors.Is(err, introspect.ErrUnsupported))
			m, err := introspect.Table(ctx, db, "", "pair", introspect.SkipUnsupported())
			require.NoError(t, err)
			require.False(t, col(t, m, "a").GetAutoIncrement())
			require.True(t, col(t, m, "a").GetPrimaryKey())
			require.True(t, col(t, m, "b").GetPrimaryKey())
		})
	}
}

// TestBindAndDef: Bind binds the model to the schema read; Def works on any
// *sql.DB, *sql.Conn or *sql.Tx, and its definition registers.
func TestBindAndDef(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := testCtx(t)
			reg := newRegistry(t, b.url(t))
			require.NoError(t, reg.CreateSchema(ctx, "ten"))
			exec(t, reg, `CREATE TABLE "ten"."notes" (id bigint PRIMARY KEY, body text)`)
			m, err := introspect.Table(ctx, reg.Database(), "ten", "notes", introspect.Bind(), introspect.Name("Note"))
			require.NoError(t, err)
			require.Equal(t, "ten", m.Schema())
			require.False(t, col(t, m, "id").GetAutoIncrement(), "bigint primary key: not a rowid or identity")

			conn, err := reg.Database().DB().Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			def, err := introspect.Def(ctx, conn, reg.Database().Dialect(), "ten", "notes")
			require.NoError(t, err)
			require.Equal(t, "notes", def.GetName())
			require.Empty(t, def.GetSchema())
			got, err := models.New(def)
			require.NoError(t, err)
			reged, err := reg.RegisterModel(ctx, got)
			require.NoError(t, err)
			q, err := reged.QualifiedTable("ten")
			require.NoError(t, err)
			var n int
			require.NoError(t, reg.Database().DB().QueryRowContext(ctx, "SELECT count(*) FROM "+q).Scan(&n))
		})
	}
}
