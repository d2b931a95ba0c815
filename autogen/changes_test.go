package autogen_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/autogen"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

type itemV1 struct {
	ID    int64  `db:"id,pk"`
	Code  string `db:"code,index"`
	Label string `db:"label,default='x'"`
	Qty   int64  `db:"qty"`
}

// itemV2: code loses its index, label changes default, qty becomes
// nullable, a new indexed column, and a unique one.
type itemV2 struct {
	ID    int64   `db:"id,pk"`
	Code  string  `db:"code"`
	Label string  `db:"label,default='y'"`
	Qty   *int64  `db:"qty"`
	Shelf int64   `db:"shelf,index,default=0"`
	SKU   *string `db:"sku,unique"`
}

// TestIndexNullDefault: index, nullability and default changes, both ways,
// with rows in the table (SQLite rebuilds it and must keep them).
func TestIndexNullDefault(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, registry.Config{Database: b.url(t)})
		register(t, reg, itemV1{}, models.Name("Item"))
		applyUp(t, reg, diff(t, reg))
		_, err := reg.Database().DB().ExecContext(ctx, `INSERT INTO items (code, qty) VALUES ('a', 1), ('b', 2)`)
		require.NoError(t, err)

		register(t, reg, itemV2{}, models.Name("Item"))
		cs := diff(t, reg)
		require.Len(t, cs, 1)
		up := strings.Join(cs[0].Up, "\n")
		t.Logf("up:\n%s\ndown:\n%s", up, strings.Join(cs[0].Down, "\n"))
		require.Contains(t, up, "items_shelf_idx")
		if b.name == "postgres" {
			require.Contains(t, up, `DROP INDEX "items_code_idx"`)
			require.Contains(t, up, `ALTER COLUMN "qty" DROP NOT NULL`)
			require.Contains(t, up, `ALTER COLUMN "label" SET DEFAULT 'y'`)
			require.False(t, cs[0].NoTransaction)
		} else {
			require.True(t, cs[0].NoTransaction, "SQLite rebuilds the table")
		}
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))
		var n int
		require.NoError(t, reg.Database().DB().QueryRowContext(ctx, `SELECT count(*) FROM items WHERE shelf = 0`).Scan(&n))
		require.Equal(t, 2, n, "rows kept")

		applyDown(t, reg, cs)
		register(t, reg, itemV1{}, models.Name("Item"))
		requireEmpty(t, diff(t, reg))
		require.NoError(t, reg.Database().DB().QueryRowContext(ctx, `SELECT count(*) FROM items`).Scan(&n))
		require.Equal(t, 2, n, "rows kept by down")
	})
}

type owner struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

type pet struct {
	ID      int64 `db:"id,pk"`
	OwnerID int64 `db:"owner_id,references=owners.id,ondelete=cascade"`
}

// TestForeignKeys: tables that reference each other are created and
// dropped in an order the database accepts; an added foreign key, too.
func TestForeignKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, registry.Config{Database: b.url(t)})
		register(t, reg, pet{}, models.Name("Pet"))
		register(t, reg, owner{}, models.Name("Owner"))
		cs := diff(t, reg)
		t.Logf("up:\n%s\ndown:\n%s", strings.Join(cs[0].Up, "\n"), strings.Join(cs[0].Down, "\n"))
		require.Contains(t, strings.Join(cs[0].Up, "\n"), "ON DELETE CASCADE")
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))
		applyDown(t, reg, cs)
		require.Equal(t, cs, diff(t, reg), "down dropped both tables")
	})
}

type tenantUser struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name,index"`
}

type tenantUserV2 struct {
	ID    int64   `db:"id,pk"`
	Name  string  `db:"name,index"`
	Email *string `db:"email"`
}

type auditLog struct {
	ID  int64  `db:"id,pk"`
	Msg string `db:"msg"`
}

// applyTenant applies a tenant change to one tenant schema: on PostgreSQL
// with search_path set to it, on SQLite on the tenant's own database file.
func applyTenant(t *testing.T, reg *registry.Registry, dialect, tenant string, noTx bool, stmts []string) {
	t.Helper()
	ctx := testCtx(t)
	db := reg.Database().DB()
	if dialect == "postgres" {
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.ExecContext(ctx, `SET search_path TO "`+tenant+`"`)
		require.NoError(t, err)
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), `RESET search_path`) }()
		for _, s := range stmts {
			_, err := conn.ExecContext(ctx, s)
			require.NoError(t, err, s)
		}
		return
	}
	var file string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = ?`, tenant).Scan(&file))
	own, err := sql.Open("sqlite", "file:"+file+"?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	defer own.Close()
	own.SetMaxOpenConns(1)
	apply(t, own, noTx, stmts)
}

// TestTenant: the tenant set is compared in one tenant's schema, is
// unqualified, leaves out models bound to a schema of their own, and,
// applied to a tenant, leaves nothing to do there.
func TestTenant(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, registry.Config{Database: b.url(t)})
		register(t, reg, tenantUser{}, models.Name("User"))
		if b.name == "postgres" {
			register(t, reg, auditLog{}, models.Name("Audit"), models.Schema("audit"))
		}
		require.NoError(t, reg.CreateSchema(ctx, "tenant_a"))
		require.NoError(t, reg.CreateSchema(ctx, "tenant_b", registry.WithModels()))

		cs := diff(t, reg, autogen.Tenant("tenant_a"))
		require.Len(t, cs, 1)
		c := cs[0]
		require.True(t, c.Tenant)
		require.Equal(t, "tenant_a", c.Schema)
		up := strings.Join(c.Up, "\n")
		require.NotContains(t, up, "tenant_a", "unqualified")
		require.NotContains(t, up, "audit")
		applyTenant(t, reg, b.name, "tenant_a", c.NoTransaction, c.Up)
		requireEmpty(t, diff(t, reg, autogen.Tenant("tenant_a")))
		requireEmpty(t, diff(t, reg, autogen.Tenant("tenant_b")))

		// A new field: the same change fits both tenants.
		register(t, reg, tenantUserV2{}, models.Name("User"))
		ca := diff(t, reg, autogen.Tenant("tenant_a"))
		cb := diff(t, reg, autogen.Tenant("tenant_b"))
		require.Len(t, ca, 1)
		require.Len(t, cb, 1)
		require.Equal(t, ca[0].Up, cb[0].Up)
		for _, tn := range []string{"tenant_a", "tenant_b"} {
			applyTenant(t, reg, b.name, tn, ca[0].NoTransaction, ca[0].Up)
			requireEmpty(t, diff(t, reg, autogen.Tenant(tn)))
		}
		applyTenant(t, reg, b.name, "tenant_b", ca[0].NoTransaction, ca[0].Down)
		require.Equal(t, cb, diff(t, reg, autogen.Tenant("tenant_b")))

		_, err := autogen.Diff(ctx, reg, autogen.Tenant("tenant_zz"))
		require.ErrorIs(t, err, autogen.ErrNoSchema)
		_, err = autogen.Diff(ctx, reg, autogen.Tenant(""+"bad\x00name"))
		require.ErrorIs(t, err, registry.ErrInvalidName)
	})
}

type auditLogV2 struct {
	ID    int64   `db:"id,pk"`
	Msg   *string `db:"msg,index"`
	Level int64   `db:"level,default=1"`
}

type event struct {
	ID   int64  `db:"id,pk"`
	Kind string `db:"kind"`
}

// TestExtraAndSchemas: a model bound to an extra database is compared
// there; on PostgreSQL, one bound to a schema gets qualified statements
// that create the schema first; on SQLite such a model is unsupported.
func TestExtraAndSchemas(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, registry.Config{Database: b.url(t), Extra: map[string]string{"analytics": b.url(t)}})
		register(t, reg, event{}, models.Name("Event"), models.Database("analytics"))
		register(t, reg, tenantUser{}, models.Name("User"))
		cs := diff(t, reg)
		require.Len(t, cs, 2)
		require.Equal(t, "", cs[0].Database)
		require.Equal(t, "analytics", cs[1].Database)
		require.Contains(t, strings.Join(cs[1].Up, "\n"), "events")
		require.NotContains(t, strings.Join(cs[0].Up, "\n"), "events")

		only := diff(t, reg, autogen.Databases("analytics"))
		require.Equal(t, cs[1:], only)
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))

		register(t, reg, auditLog{}, models.Name("Audit"), models.Schema("audit"))
		if b.name == "sqlite" {
			// An SQLite schema is an attached file: SQL cannot create it.
			_, err := autogen.Diff(testCtx(t), reg)
			require.ErrorIs(t, err, autogen.ErrNoSchema)
			var de *autogen.DiffError
			require.ErrorAs(t, err, &de)
			require.Equal(t, "audit", de.Schema)
			require.NoError(t, reg.CreateSchema(testCtx(t), "audit"))
			cs = diff(t, reg)
			require.Len(t, cs, 1)
			require.Equal(t, "audit", cs[0].Schema)
			require.Contains(t, joined(cs), `CREATE TABLE "audit".`+"`audits`")
			applyUp(t, reg, cs)
			requireEmpty(t, diff(t, reg))

			// A rebuild inside the attached schema: every statement
			// qualified, rows kept, and back.
			_, err = reg.Database().DB().ExecContext(testCtx(t), `INSERT INTO "audit"."audits" (msg) VALUES ('m')`)
			require.NoError(t, err)
			register(t, reg, auditLogV2{}, models.Name("Audit"), models.Schema("audit"))
			cs = diff(t, reg)
			require.Len(t, cs, 1)
			t.Logf("up:\n%s\ndown:\n%s", strings.Join(cs[0].Up, "\n"), strings.Join(cs[0].Down, "\n"))
			require.True(t, cs[0].NoTransaction)
			applyUp(t, reg, cs)
			requireEmpty(t, diff(t, reg))
			applyDown(t, reg, cs)
			register(t, reg, auditLog{}, models.Name("Audit"), models.Schema("audit"))
			requireEmpty(t, diff(t, reg))
			var n int
			require.NoError(t, reg.Database().DB().QueryRowContext(testCtx(t), `SELECT count(*) FROM "audit"."audits"`).Scan(&n))
			require.Equal(t, 1, n)
			return
		}
		cs = diff(t, reg)
		require.Len(t, cs, 1)
		require.Equal(t, "audit", cs[0].Schema)
		require.Equal(t, `CREATE SCHEMA IF NOT EXISTS "audit"`, cs[0].Up[0])
		require.Contains(t, cs[0].Up[1], `"audit"."audits"`)
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))
	})
}

// TestUnknownTables: tables no model names are left alone, unless
// DropUnknown asks; goose's version table and IgnoreTables never go.
func TestUnknownTables(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, registry.Config{Database: b.url(t)})
		register(t, reg, tenantUser{}, models.Name("User"))
		applyUp(t, reg, diff(t, reg))
		for _, s := range []string{
			`CREATE TABLE legacy (id bigint PRIMARY KEY)`,
			`CREATE TABLE keepme (id bigint PRIMARY KEY)`,
			`CREATE TABLE goose_db_version (id bigint PRIMARY KEY)`,
		} {
			_, err := reg.Database().DB().ExecContext(ctx, s)
			require.NoError(t, err)
		}
		requireEmpty(t, diff(t, reg))
		cs := diff(t, reg, autogen.DropUnknown(), autogen.IgnoreTables("keepme"))
		require.Len(t, cs, 1)
		up := strings.Join(cs[0].Up, "\n")
		require.Contains(t, up, "legacy")
		require.NotContains(t, up, "keepme")
		require.NotContains(t, up, "goose_db_version")
		require.Contains(t, strings.Join(cs[0].Down, "\n"), "CREATE TABLE")
	})
}

// TestContentTypes: what the registry adds to the models (the content-type
// model and its injected column) is diffed like the rest: whatever
// reg.Models() returns is the desired state.
func TestContentTypes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, registry.Config{Database: b.url(t), WithContentType: true})
		register(t, reg, tenantUser{}, models.Name("User"))
		cs := diff(t, reg)
		require.Len(t, cs, 1)
		up := strings.Join(cs[0].Up, "\n")
		require.Contains(t, up, models.ContentTypeTable)
		require.Contains(t, up, models.ContentTypeColumn)
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))
	})
}

// TestHandMadeExtras: what a model cannot express and someone added by hand
// (a CHECK, an index over two columns, a partial index, a comment) is
// neither dropped by the next migration nor lost by SQLite's table rebuild.
func TestHandMadeExtras(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, registry.Config{Database: b.url(t)})
		register(t, reg, itemV1{}, models.Name("Item"))
		applyUp(t, reg, diff(t, reg))
		db := reg.Database().DB()
		hand := []string{
			`CREATE INDEX items_code_qty ON items (code, qty)`,
			`CREATE INDEX items_big ON items (qty) WHERE qty > 100`,
		}
		if b.name == "postgres" {
			hand = append(hand, `ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0)`,
				`COMMENT ON TABLE items IS 'hand'`, `COMMENT ON COLUMN items.code IS 'hand'`)
		} else {
			// SQLite cannot add a CHECK to a table: rebuild it by hand.
			hand = append([]string{
				`CREATE TABLE items2 (id INTEGER PRIMARY KEY, code TEXT NOT NULL, label TEXT NOT NULL DEFAULT ('x'), qty INTEGER NOT NULL, CONSTRAINT qty_positive CHECK (qty > 0))`,
				`DROP TABLE items`, `ALTER TABLE items2 RENAME TO items`, `CREATE INDEX items_code_idx ON items (code)`,
			}, hand...)
		}
		for _, s := range hand {
			_, err := db.ExecContext(ctx, s)
			require.NoError(t, err, s)
		}
		requireEmpty(t, diff(t, reg))

		register(t, reg, itemV2{}, models.Name("Item"))
		cs := diff(t, reg)
		require.Len(t, cs, 1)
		all := strings.Join(cs[0].Up, "\n") + strings.Join(cs[0].Down, "\n")
		require.NotContains(t, all, `DROP INDEX "items_code_qty"`)
		require.NotContains(t, all, "DROP CONSTRAINT")
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))
		_, err := db.ExecContext(ctx, `INSERT INTO items (code, qty) VALUES ('neg', -1)`)
		require.Error(t, err, "the CHECK survived")
		var n int
		q := `SELECT count(*) FROM pg_indexes WHERE tablename = 'items' AND indexname IN ('items_code_qty', 'items_big')`
		if b.name == "sqlite" {
			q = `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('items_code_qty', 'items_big')`
		}
		require.NoError(t, db.QueryRowContext(ctx, q).Scan(&n))
		require.Equal(t, 2, n, "the hand-made indexes survived")
		applyDown(t, reg, cs)
		register(t, reg, itemV1{}, models.Name("Item"))
		requireEmpty(t, diff(t, reg))
		require.NoError(t, db.QueryRowContext(ctx, q).Scan(&n))
		require.Equal(t, 2, n)
	})
}

// TestRegistrySchema: Config.Schema puts the models' tables in that schema:
// qualified statements (on SQLite the attached schema must exist first).
func TestRegistrySchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, registry.Config{Database: b.url(t), Schema: "app"})
		requireEmpty(t, diff(t, reg)) // no models, nothing to do
		register(t, reg, tenantUser{}, models.Name("User"))
		if b.name == "sqlite" {
			_, err := autogen.Diff(ctx, reg)
			require.ErrorIs(t, err, autogen.ErrNoSchema)
			require.NoError(t, reg.CreateSchema(ctx, "app"))
		}
		cs := diff(t, reg)
		require.Len(t, cs, 1)
		require.Equal(t, "app", cs[0].Schema)
		require.Contains(t, joined(cs), `"app".`)
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))
		// CreateAll agrees: nothing left to create.
		require.NoError(t, reg.CreateAll(ctx))
		requireEmpty(t, diff(t, reg))

		_, err := autogen.Diff(ctx, reg, autogen.Databases("nope"))
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
	})
}

// A column a model hook adds (Edgy's "use callbacks to modify models") is
// part of the model that is diffed: models → diff → apply → diff is empty,
// the hook's column included.
func TestModelHookColumn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, registry.Config{Database: b.url(t)})
		require.NoError(t, reg.RegisterModelHook(ctx, "User", func(m *models.Model) error {
			return m.AddColumn(&messages.ColumnDef{Name: "tracking", Type: messages.ColumnType_COLUMN_TYPE_TEXT, Nullable: true})
		}))
		register(t, reg, tenantUser{}, models.Name("User"))
		cs := diff(t, reg)
		require.Len(t, cs, 1)
		require.Contains(t, strings.Join(cs[0].Up, "\n"), "tracking")
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))
		var n int
		require.NoError(t, reg.Database().DB().QueryRowContext(ctx, `SELECT count(tracking) FROM users`).Scan(&n))
	})
}
