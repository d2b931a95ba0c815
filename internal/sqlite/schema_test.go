package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/messages"
)

// requireSchemaError checks err is an *Error of the given sentinel and op,
// with exactly the given text.
func requireSchemaError(t *testing.T, err error, sentinel error, op, text string) *Error {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, sentinel)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, op, e.Op)
	if text != "" {
		require.Equal(t, text, err.Error())
	}
	return e
}

func TestCreateListDrop(t *testing.T) {
	eachKind(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		db := d.SQL()
		names, err := d.Schemas(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"main"}, names)
		require.True(t, d.HasSchema("main"))
		require.False(t, d.HasSchema("tenant_b"))

		require.NoError(t, d.CreateSchema(ctx, "tenant_b", false))
		require.NoError(t, d.CreateSchema(ctx, "Tenant_A", false))
		names, err = d.Schemas(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"main", "Tenant_A", "tenant_b"}, names)
		require.True(t, d.HasSchema("tenant_a"), "SQLite compares ASCII case-insensitively")
		require.True(t, d.HasSchema("TENANT_B"))

		// Tenancy SQL runs unchanged.
		_, err = db.ExecContext(ctx, `CREATE TABLE "tenant_b"."users" (id INTEGER PRIMARY KEY, name TEXT)`)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO "tenant_b"."users" (name) VALUES ('ann'), ('bob')`)
		require.NoError(t, err)
		require.Equal(t, 2, count(t, db, `SELECT count(*) FROM "tenant_b"."users"`))
		_, err = db.ExecContext(ctx, `CREATE TABLE "users" (id INTEGER PRIMARY KEY)`)
		require.NoError(t, err)
		require.Equal(t, 0, count(t, db, `SELECT count(*) FROM "main"."users"`), "schemas are separate databases")

		require.NoError(t, d.DropSchema(ctx, "TENANT_B", false, true))
		require.False(t, d.HasSchema("tenant_b"))
		_, err = db.ExecContext(ctx, `SELECT * FROM "tenant_b"."users"`)
		require.ErrorContains(t, err, "no such table")
		require.NoError(t, d.DropSchema(ctx, "tenant_a", false, false), "empty: no cascade needed")
		names, err = d.Schemas(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"main"}, names)
	})
}

func TestFileLayout(t *testing.T) {
	ctx := context.Background()
	d, path := newFileDB(t)
	require.Empty(t, schemaFiles(t, path))
	_, err := os.Stat(path + ".schemas")
	require.True(t, os.IsNotExist(err), "no directory until the first schema")

	require.NoError(t, d.CreateSchema(ctx, "Tenant", false))
	files := schemaFiles(t, path)
	require.Len(t, files, 1)
	require.Regexp(t, `^%54enant\.[0-9a-f]{16}\.db$`, files[0])

	_, err = d.SQL().ExecContext(ctx, `CREATE TABLE "Tenant".t (x)`)
	require.NoError(t, err)
	require.NoError(t, d.DropSchema(ctx, "tenant", false, true))
	entries, err := os.ReadDir(path + ".schemas")
	require.NoError(t, err)
	for _, e := range entries {
		require.Contains(t, []string{lockName, versionName}, e.Name(), "the schema file and its siblings are gone")
	}
}

func TestCreateErrors(t *testing.T) {
	eachKind(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		require.NoError(t, d.CreateSchema(ctx, "tenant", false))

		err := d.CreateSchema(ctx, "tenant", false)
		requireSchemaError(t, err, messages.ErrSchema, OpCreate, `schema "tenant" already exists`)
		require.NotErrorIs(t, err, messages.ErrUnsupported)
		err = d.CreateSchema(ctx, "TENANT", false)
		e := requireSchemaError(t, err, messages.ErrSchema, OpCreate, `schema "TENANT" already exists`)
		require.Equal(t, "TENANT", e.Schema)
		require.NoError(t, d.CreateSchema(ctx, "Tenant", true))

		requireSchemaError(t, d.CreateSchema(ctx, "main", false), messages.ErrSchema, OpCreate, `schema "main" already exists`)
		requireSchemaError(t, d.CreateSchema(ctx, "Main", false), messages.ErrSchema, OpCreate, `schema "Main" already exists`)
		require.NoError(t, d.CreateSchema(ctx, "main", true))
		for _, temp := range []string{"temp", "TEMP"} {
			for _, ine := range []bool{false, true} {
				err = d.CreateSchema(ctx, temp, ine)
				requireSchemaError(t, err, messages.ErrUnsupported, OpCreate, "")
				require.Contains(t, err.Error(), "temporary database")
			}
		}

		for _, bad := range []string{"", strings.Repeat("a", 64), "a\x00b", "\xff"} {
			err := d.CreateSchema(ctx, bad, true)
			require.ErrorIs(t, err, messages.ErrInvalidName)
			var ie *ident.Error
			require.ErrorAs(t, err, &ie)
			require.Equal(t, "schema", ie.Kind)
		}

		names, err := d.Schemas(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"main", "tenant"}, names, "failed calls change nothing")
	})
}

func TestDropErrors(t *testing.T) {
	eachKind(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		db := d.SQL()
		requireSchemaError(t, d.DropSchema(ctx, "nope", false, false), messages.ErrSchema, OpDrop, `schema "nope" does not exist`)
		require.NoError(t, d.DropSchema(ctx, "nope", true, true))

		for _, reserved := range []string{"main", "MAIN", "temp", "Temp"} {
			err := d.DropSchema(ctx, reserved, true, true)
			requireSchemaError(t, err, messages.ErrUnsupported, OpDrop,
				fmt.Sprintf("cannot drop schema %s because it is required by the database system", reserved))
		}
		err := d.DropSchema(ctx, "", true, true)
		require.ErrorIs(t, err, messages.ErrInvalidName)

		// Every kind of object blocks a drop without cascade.
		for i, ddl := range []string{
			`CREATE TABLE "s".t (x)`,
			`CREATE VIEW "s".v AS SELECT 1 AS one`,
			`CREATE TABLE "s".t (x); CREATE INDEX "s".i ON t (x); DROP TABLE "s".t; CREATE TABLE "s".u (x); CREATE INDEX "s".j ON u (x)`,
			`CREATE TABLE "s".t (id INTEGER PRIMARY KEY AUTOINCREMENT); CREATE TRIGGER "s".tr AFTER INSERT ON t BEGIN SELECT 1; END`,
		} {
			require.NoError(t, d.CreateSchema(ctx, "s", false), i)
			_, err := db.ExecContext(ctx, ddl)
			require.NoError(t, err, ddl)
			requireSchemaError(t, d.DropSchema(ctx, "s", false, false), messages.ErrSchema, OpDrop,
				"cannot drop schema s because other objects depend on it")
			requireSchemaError(t, d.DropSchema(ctx, "s", true, false), messages.ErrSchema, OpDrop, "")
			require.True(t, d.HasSchema("s"))
			require.NoError(t, d.DropSchema(ctx, "s", false, true), ddl)
		}

		// SQLite's own bookkeeping (sqlite_sequence outlives its tables) is not
		// an object of the user's.
		require.NoError(t, d.CreateSchema(ctx, "s", false))
		_, err = db.ExecContext(ctx, `CREATE TABLE "s".t (id INTEGER PRIMARY KEY AUTOINCREMENT); INSERT INTO "s".t DEFAULT VALUES; DROP TABLE "s".t`)
		require.NoError(t, err)
		require.Equal(t, 1, count(t, db, `SELECT count(*) FROM "s".sqlite_master WHERE name = 'sqlite_sequence'`))
		require.NoError(t, d.DropSchema(ctx, "s", false, false))
	})
}

func TestNamesNeedingQuotingAndEncoding(t *testing.T) {
	ctx := context.Background()
	// SQLite attaches at most 10: go in batches.
	for start := 0; start < len(oddNames); start += 8 {
		batch := oddNames[start:min(start+8, len(oddNames))]
		t.Run(fmt.Sprint(start), func(t *testing.T) {
			eachKind(t, func(t *testing.T, d *DB) {
				db := d.SQL()
				for _, name := range batch {
					require.NoError(t, d.CreateSchema(ctx, name, false), "%q", name)
					_, err := db.ExecContext(ctx, "CREATE TABLE "+ident.Quote(name, "t")+" (v TEXT)")
					require.NoError(t, err, "%q", name)
					_, err = db.ExecContext(ctx, "INSERT INTO "+ident.Quote(name, "t")+" VALUES (?)", name)
					require.NoError(t, err)
				}
				names, err := d.Schemas(ctx)
				require.NoError(t, err)
				want := append([]string{"main"}, batch...)
				require.ElementsMatch(t, want, names)
				for _, name := range batch {
					require.True(t, d.HasSchema(name), "%q", name)
					var v string
					require.NoError(t, db.QueryRowContext(ctx, "SELECT v FROM "+ident.Quote(name, "t")).Scan(&v))
					require.Equal(t, name, v, "each name has its own database")
				}
				if !d.memory {
					// Every file is directly inside the schema directory.
					parent := filepath.Dir(d.dir)
					entries, err := os.ReadDir(parent)
					require.NoError(t, err)
					for _, e := range entries {
						require.Contains(t, []string{"app.db", "app.db.schemas"}, e.Name(), "nothing escaped the directory")
					}
					files, err := os.ReadDir(d.dir)
					require.NoError(t, err)
					require.Len(t, files, len(batch)+2) // + .lock, .version
				}
				for _, name := range batch {
					require.NoError(t, d.DropSchema(ctx, name, false, true), "%q", name)
				}
				names, err = d.Schemas(ctx)
				require.NoError(t, err)
				require.Equal(t, []string{"main"}, names)
			})
		})
	}
}

func TestAttachLimit(t *testing.T) {
	eachKind(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		for i := range 10 {
			require.NoError(t, d.CreateSchema(ctx, fmt.Sprintf("s%d", i), false))
		}
		require.Equal(t, 10, d.limit(), "read from PRAGMA compile_options")
		before, err := d.Schemas(ctx)
		require.NoError(t, err)
		require.Len(t, before, 11)

		err = d.CreateSchema(ctx, "one_too_many", false)
		e := requireSchemaError(t, err, messages.ErrUnsupported, OpCreate, "")
		require.NotErrorIs(t, err, messages.ErrSchema)
		require.Equal(t, "one_too_many", e.Schema)
		require.Contains(t, err.Error(), "at most 10")
		require.Contains(t, err.Error(), "SQLITE_MAX_ATTACHED")
		require.ErrorIs(t, d.CreateSchema(ctx, "one_too_many", true), messages.ErrUnsupported)
		require.ErrorIs(t, d.CreateSchema(ctx, "s0", true), nil, "an existing one is still fine")

		after, err := d.Schemas(ctx)
		require.NoError(t, err)
		require.Equal(t, before, after, "nothing left behind")
		require.False(t, d.HasSchema("one_too_many"))
		if !d.memory {
			require.Len(t, schemaFiles(t, strings.TrimSuffix(d.dir, ".schemas")), 10)
		}
		scs, _ := holdConns(t, d.SQL(), 1)
		require.Len(t, attachedOn(t, scs[0]), 10)
		release(t, scs)

		require.NoError(t, d.DropSchema(ctx, "s3", false, false))
		require.NoError(t, d.CreateSchema(ctx, "one_too_many", false), "a slot is free again")
	})
}

// TestAttachLimitIsSQLites guards the limit itself: a raw connection of the
// driver refuses the 11th ATTACH with the error tooManyAttached reads.
func TestAttachLimitIsSQLites(t *testing.T) {
	d := newMemoryDB(t)
	ctx := context.Background()
	sc, err := d.SQL().Conn(ctx)
	require.NoError(t, err)
	defer sc.Close()
	for i := range 10 {
		_, err := sc.ExecContext(ctx, fmt.Sprintf(`ATTACH DATABASE ':memory:' AS "x%d"`, i))
		require.NoError(t, err)
	}
	_, err = sc.ExecContext(ctx, `ATTACH DATABASE ':memory:' AS "x10"`)
	require.Error(t, err)
	n, ok := tooManyAttached(err)
	require.True(t, ok, err.Error())
	require.Equal(t, 10, n)
	_, ok = tooManyAttached(errors.New("no such table: x"))
	require.False(t, ok)
}

func TestReopenFileDB(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	d := openFile(t, path)
	require.NoError(t, d.CreateSchema(ctx, "Tenant_A", false))
	require.NoError(t, d.CreateSchema(ctx, "b", false))
	_, err := d.SQL().ExecContext(ctx, `CREATE TABLE "Tenant_A".users (name TEXT); INSERT INTO "tenant_a".users VALUES ('ann')`)
	require.NoError(t, err)
	require.NoError(t, d.Close())

	d2 := openFile(t, path)
	require.True(t, d2.HasSchema("Tenant_A"), "Open reads the directory")
	names, err := d2.Schemas(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"main", "Tenant_A", "b"}, names, "listed with the original spelling")
	scs, _ := holdConns(t, d2.SQL(), 3)
	for _, sc := range scs {
		require.Equal(t, 1, count(t, sc, `SELECT count(*) FROM "Tenant_A".users WHERE name = 'ann'`))
	}
	release(t, scs)
	requireSchemaError(t, d2.CreateSchema(ctx, "tenant_a", false), messages.ErrSchema, OpCreate, `schema "tenant_a" already exists`)
}

func TestMemorySchemasDieWithTheDB(t *testing.T) {
	ctx := context.Background()
	d := newMemoryDB(t)
	require.NoError(t, d.CreateSchema(ctx, "x", false))
	_, err := d.SQL().ExecContext(ctx, `CREATE TABLE "x".t (v); INSERT INTO "x".t VALUES (1)`)
	require.NoError(t, err)
	require.Equal(t, 1, count(t, d.SQL(), `SELECT count(*) FROM "x".t`))
	require.NoError(t, d.Close())

	d2 := newMemoryDB(t)
	names, err := d2.Schemas(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"main"}, names)
	require.NoError(t, d2.CreateSchema(ctx, "x", false))
	require.Equal(t, 0, count(t, d2.SQL(), `SELECT count(*) FROM "x".sqlite_master`))
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	rw := openFile(t, path)
	require.NoError(t, rw.CreateSchema(ctx, "x", false))
	_, err := rw.SQL().ExecContext(ctx, `CREATE TABLE "x".t (v); INSERT INTO "x".t VALUES (1)`)
	require.NoError(t, err)
	require.NoError(t, rw.Close())
	filesBefore := schemaFiles(t, path)

	ro := openURL(t, "file:"+path+"?mode=ro")
	db := ro.SQL()
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM "x".t`), "schemas are attached read-only")
	_, err = db.ExecContext(ctx, `INSERT INTO "x".t VALUES (2)`)
	require.ErrorContains(t, err, "readonly", "a read-only main database keeps its schemas read-only")
	_, err = db.ExecContext(ctx, `CREATE TABLE "x".u (v)`)
	require.ErrorContains(t, err, "readonly")

	err = ro.CreateSchema(ctx, "y", false)
	requireSchemaError(t, err, messages.ErrSchema, OpCreate, `cannot create schema "y": the database is read-only`)
	err = ro.DropSchema(ctx, "x", false, true)
	requireSchemaError(t, err, messages.ErrSchema, OpDrop, `cannot drop schema "x": the database is read-only`)
	require.Equal(t, filesBefore, schemaFiles(t, path), "nothing created or deleted")
	names, err := ro.Schemas(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"main", "x"}, names)
}

func TestCannotCreateFile(t *testing.T) {
	ctx := context.Background()
	d, path := newFileDB(t)
	// A file where the directory should be: MkdirAll fails, even for root.
	require.NoError(t, os.WriteFile(path+".schemas", []byte("in the way"), 0o644))
	err := d.CreateSchema(ctx, "x", false)
	e := requireSchemaError(t, err, messages.ErrSchema, OpCreate, "")
	require.Contains(t, err.Error(), `cannot create schema "x": `)
	require.NotNil(t, e.Err, "the cause is kept")
	require.False(t, d.HasSchema("x"))
	names, err := d.Schemas(ctx)
	require.Nil(t, names)
	requireSchemaError(t, err, messages.ErrSchema, OpList, "")
}

func TestOpenErrors(t *testing.T) {
	d, err := Open(nil)
	require.Nil(t, d)
	requireSchemaError(t, err, messages.ErrInvalidConfig, OpOpen, "")

	// The schema directory cannot be read: which schemas exist is unknown,
	// so the database is not opened.
	path := filepath.Join(t.TempDir(), "app.db")
	require.NoError(t, os.WriteFile(path+".schemas", nil, 0o644))
	cfg, err := dsn.Parse("sqlite:///" + path)
	require.NoError(t, err)
	d, err = Open(cfg.SQLite)
	require.Nil(t, d)
	e := requireSchemaError(t, err, messages.ErrSchema, OpOpen, "")
	require.ErrorIs(t, err, syscall.ENOTDIR)
	require.NotNil(t, e.Err)
}

func TestClosedAndCanceled(t *testing.T) {
	eachKind(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		for _, err := range []error{
			d.CreateSchema(canceled, "x", false),
			d.DropSchema(canceled, "x", true, true),
			func() error { _, err := d.Schemas(canceled); return err }(),
		} {
			require.ErrorIs(t, err, context.Canceled)
			require.NotErrorIs(t, err, messages.ErrSchema, "a cancellation stays a cancellation")
			require.Equal(t, messages.Code_CODE_CANCELED, messages.CodeOf(err, messages.Code_CODE_INTERNAL))
			var e *Error
			require.ErrorAs(t, err, &e)
		}
		require.False(t, d.HasSchema("x"))

		require.NoError(t, d.Close())
		for _, err := range []error{
			d.CreateSchema(ctx, "x", false),
			d.DropSchema(ctx, "x", true, true),
			func() error { _, err := d.Schemas(ctx); return err }(),
		} {
			require.ErrorIs(t, err, messages.ErrClosed)
			var e *Error
			require.ErrorAs(t, err, &e)
		}
	})
}

func TestForeignKeysInsideASchema(t *testing.T) {
	eachKind(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		db := d.SQL()
		require.NoError(t, d.CreateSchema(ctx, "shop", false))
		_, err := db.ExecContext(ctx, `
			CREATE TABLE "shop"."parent" (id INTEGER PRIMARY KEY);
			CREATE TABLE "shop"."child" (id INTEGER PRIMARY KEY,
				parent_id INTEGER NOT NULL REFERENCES "parent" (id) ON DELETE CASCADE);
			INSERT INTO "shop"."parent" (id) VALUES (1), (2);
			INSERT INTO "shop"."child" (parent_id) VALUES (1), (1), (2);`)
		require.NoError(t, err)

		// foreign_keys is per connection: check on several.
		n := 3
		if d.memory {
			n = 1
		}
		scs, _ := holdConns(t, db, n)
		for i, sc := range scs {
			require.Equal(t, 1, count(t, sc, "PRAGMA foreign_keys"))
			_, err := sc.ExecContext(ctx, `INSERT INTO "shop"."child" (parent_id) VALUES (99)`)
			require.ErrorContains(t, err, "FOREIGN KEY constraint failed", "connection %d", i)
		}
		_, err = scs[0].ExecContext(ctx, `DELETE FROM "shop"."parent" WHERE id = 1`)
		require.NoError(t, err)
		for _, sc := range scs {
			require.Equal(t, 1, count(t, sc, `SELECT count(*) FROM "shop"."child"`), "ON DELETE CASCADE")
		}
		release(t, scs)
	})
}

func TestWALMainGivesWALSchemas(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	d := openURL(t, "sqlite:///"+path+"?_pragma=journal_mode(WAL)")
	db := d.SQL()
	require.NoError(t, d.CreateSchema(ctx, "w", false))
	var mode string
	require.NoError(t, db.QueryRowContext(ctx, `PRAGMA "w".journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
	_, err := db.ExecContext(ctx, `CREATE TABLE "w".t (v); INSERT INTO "w".t VALUES (1)`)
	require.NoError(t, err)
	file := filepath.Join(path+".schemas", schemaFiles(t, path)[0])
	_, err = os.Stat(file + "-wal")
	require.NoError(t, err, "the schema writes a WAL")

	require.NoError(t, d.DropSchema(ctx, "w", false, true))
	for _, suffix := range append([]string{""}, siblings...) {
		_, err := os.Stat(file + suffix)
		require.True(t, os.IsNotExist(err), "%s%s is gone", file, suffix)
	}

	// Without WAL on main, schemas keep SQLite's default.
	plain, _ := newFileDB(t)
	require.NoError(t, plain.CreateSchema(ctx, "p", false))
	require.NoError(t, plain.SQL().QueryRowContext(ctx, `PRAGMA "p".journal_mode`).Scan(&mode))
	require.Equal(t, "delete", mode)
}
