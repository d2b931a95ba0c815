package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
	msqlite "modernc.org/sqlite"

	"github.com/dbactor/dbactor/messages"
)

const nConns = 4

// newPooledFileDB is a file database whose pool keeps nConns idle
// connections, so reused connections are really reused.
func newPooledFileDB(t *testing.T) (*DB, string) {
	t.Helper()
	d, path := newFileDB(t)
	d.SQL().SetMaxIdleConns(2 * nConns)
	return d, path
}

// requireReused checks every connection of want is among got.
func requireReused(t *testing.T, want, got []*conn) {
	t.Helper()
	seen := map[*conn]bool{}
	for _, c := range got {
		seen[c] = true
	}
	for i, c := range want {
		require.True(t, seen[c], "connection %d (%p) was not reused", i, c)
	}
}

func TestSchemaOnEveryPooledConnection(t *testing.T) {
	ctx := context.Background()
	d, _ := newPooledFileDB(t)
	db := d.SQL()

	// nConns connections exist and go idle before the schema exists.
	scs, before := holdConns(t, db, nConns)
	for _, sc := range scs {
		require.Empty(t, attachedOn(t, sc))
	}
	release(t, scs)

	require.NoError(t, d.CreateSchema(ctx, "tenant", false))
	_, err := db.ExecContext(ctx, `CREATE TABLE "tenant".users (name TEXT); INSERT INTO "tenant".users VALUES ('ann')`)
	require.NoError(t, err)

	// The idle connections see it on their next use.
	scs, after := holdConns(t, db, nConns)
	requireReused(t, before, after)
	for i, sc := range scs {
		require.Equal(t, []string{"tenant"}, attachedOn(t, sc), "connection %d", i)
		require.Equal(t, 1, count(t, sc, `SELECT count(*) FROM "tenant".users`), "connection %d", i)
	}

	// A connection in use keeps its set until it is returned.
	require.NoError(t, d.DropSchema(ctx, "tenant", false, true))
	require.Equal(t, []string{"tenant"}, attachedOn(t, scs[0]), "documented: held connections catch up when returned")
	release(t, scs)

	// After the drop a reused connection no longer sees it (the drop ran
	// on one more connection: take them all).
	scs, again := holdConns(t, db, nConns+1)
	requireReused(t, before, again)
	for i, sc := range scs {
		require.Empty(t, attachedOn(t, sc), "connection %d", i)
		_, err := sc.ExecContext(ctx, `SELECT * FROM "tenant".users`)
		require.ErrorContains(t, err, "no such table", "connection %d", i)
	}
	release(t, scs)
}

func TestNewConnectionsAttachTheSet(t *testing.T) {
	ctx := context.Background()
	d, _ := newPooledFileDB(t)
	require.NoError(t, d.CreateSchema(ctx, "a", false))
	require.NoError(t, d.CreateSchema(ctx, "B", false))
	// More connections than ever existed: most are opened now.
	scs, _ := holdConns(t, d.SQL(), nConns+2)
	for _, sc := range scs {
		require.Equal(t, []string{"B", "a"}, attachedOn(t, sc))
	}
	release(t, scs)
}

// TestNewConnectionCatchesUpOnFirstUse: database/sql may hand a connection
// it just opened to another request without ResetSession; one opened before
// a CreateSchema must still see the schema on its first statement.
func TestNewConnectionCatchesUpOnFirstUse(t *testing.T) {
	ctx := context.Background()
	eachKind(t, func(t *testing.T, d *DB) {
		ci, err := d.conns.Connect(ctx)
		require.NoError(t, err)
		defer ci.Close()
		require.NoError(t, d.CreateSchema(ctx, "late", false))
		require.NoError(t, d.DropSchema(ctx, "late", false, false))
		require.NoError(t, d.CreateSchema(ctx, "late", false))

		rows, err := ci.(driver.QueryerContext).QueryContext(ctx, `SELECT count(*) FROM "late".sqlite_master`, nil)
		require.NoError(t, err, "the first use attaches what was created since Connect")
		require.NoError(t, rows.Close())
		c := ci.(*conn)
		require.Equal(t, d.snap.Load().version, c.version)
		require.Equal(t, d.snap.Load().byKey["late"].gen, c.attached["late"].gen, "the current generation")
	})
}

func TestDropAndRecreateIsEmptyEverywhere(t *testing.T) {
	ctx := context.Background()
	d, path := newPooledFileDB(t)
	db := d.SQL()
	require.NoError(t, d.CreateSchema(ctx, "t", false))
	_, err := db.ExecContext(ctx, `CREATE TABLE "t".data (v); INSERT INTO "t".data VALUES (1), (2)`)
	require.NoError(t, err)
	scs, before := holdConns(t, db, nConns)
	for _, sc := range scs {
		require.Equal(t, 2, count(t, sc, `SELECT count(*) FROM "t".data`))
	}
	release(t, scs)
	oldFiles := schemaFiles(t, path)

	require.NoError(t, d.DropSchema(ctx, "t", false, true))
	require.NoError(t, d.CreateSchema(ctx, "T", false))
	newFiles := schemaFiles(t, path)
	require.Len(t, newFiles, 1)
	require.NotEqual(t, oldFiles, newFiles, "a new generation, a new file")

	scs, after := holdConns(t, db, nConns)
	requireReused(t, before, after)
	for i, sc := range scs {
		require.Equal(t, 0, count(t, sc, `SELECT count(*) FROM "T".sqlite_master`), "connection %d sees the new, empty schema", i)
		_, err := sc.ExecContext(ctx, `SELECT * FROM "t".data`)
		require.ErrorContains(t, err, "no such table")
	}
	release(t, scs)
	names, err := d.Schemas(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"main", "T"}, names, "the new spelling")
}

// TestTwoDBsOnOneFile stands in for two processes: the directory is the
// source of truth.
func TestTwoDBsOnOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	a := openFile(t, path)
	b := openFile(t, path)
	b.SQL().SetMaxIdleConns(nConns)
	scs, _ := holdConns(t, b.SQL(), nConns)
	release(t, scs)

	require.NoError(t, a.CreateSchema(ctx, "shared", false))
	_, err := a.SQL().ExecContext(ctx, `CREATE TABLE "shared".t (v); INSERT INTO "shared".t VALUES ('from a')`)
	require.NoError(t, err)

	requireSchemaError(t, b.CreateSchema(ctx, "SHARED", false), messages.ErrSchema, OpCreate, `schema "SHARED" already exists`)
	require.True(t, b.HasSchema("shared"), "b read the directory")
	scs, _ = holdConns(t, b.SQL(), nConns)
	for _, sc := range scs {
		var v string
		require.NoError(t, sc.QueryRowContext(ctx, `SELECT v FROM "shared".t`).Scan(&v))
		require.Equal(t, "from a", v)
	}
	release(t, scs)

	require.NoError(t, b.DropSchema(ctx, "shared", false, true))
	names, err := a.Schemas(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"main"}, names, "a sees b's drop")
	require.False(t, a.HasSchema("shared"))
	_, err = a.SQL().ExecContext(ctx, `SELECT * FROM "shared".t`)
	require.ErrorContains(t, err, "no such table")
}

// TestUnattachableSchema: a schema file that cannot be attached is reported
// as a typed error by the query that needed a connection, never a raw
// driver error, and the pool recovers once the file is gone.
func TestUnattachableSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	a := openFile(t, path)
	a.SQL().SetMaxIdleConns(nConns)
	require.NoError(t, a.SQL().PingContext(ctx))

	other := openFile(t, path)
	require.NoError(t, other.CreateSchema(ctx, "broken", false))
	files := schemaFiles(t, path)
	require.Len(t, files, 1)
	file := filepath.Join(path+".schemas", files[0])
	require.NoError(t, os.WriteFile(file, []byte("this is not an SQLite database, not even close to one....................................................."), 0o644))

	_, err := a.Schemas(ctx) // a adopts the schema
	require.NoError(t, err)
	_, err = a.SQL().ExecContext(ctx, "SELECT 1")
	require.Error(t, err)
	e := requireSchemaError(t, err, messages.ErrSchema, OpAttach, "")
	require.Equal(t, "broken", e.Schema)
	require.Contains(t, err.Error(), `cannot attach schema "broken"`)

	require.NoError(t, os.Remove(file))
	_, err = a.Schemas(ctx)
	require.NoError(t, err)
	_, err = a.SQL().ExecContext(ctx, "SELECT 1")
	require.NoError(t, err)
}

// TestConnForwardsModernc: the wrapper implements every method and optional
// interface modernc's connection does, but the deprecated Execer and Queryer,
// and nothing more that database/sql would act on (no NamedValueChecker).
func TestConnForwardsModernc(t *testing.T) {
	ctx := context.Background()
	raw, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	defer raw.Close()
	sc, err := raw.Conn(ctx)
	require.NoError(t, err)
	var inner any
	require.NoError(t, sc.Raw(func(dc any) error { inner = dc; return nil }))
	require.NoError(t, sc.Close())

	innerT, oursT := reflect.TypeOf(inner), reflect.TypeFor[*conn]()
	for i := range innerT.NumMethod() {
		m := innerT.Method(i)
		switch m.Name {
		case "Lock", "Unlock", "TryLock": // modernc's embedded mutex, not an API
			continue
		case "Exec", "Query": // the deprecated driver.Execer and Queryer
			_, ok := oursT.MethodByName(m.Name)
			require.False(t, ok, "conn offers the deprecated %s; ExecContext and QueryContext replace it", m.Name)
			continue
		}
		got, ok := oursT.MethodByName(m.Name)
		require.True(t, ok, "conn does not forward %s", m.Name)
		require.Equal(t, m.Type.String()[len("func(*sqlite.conn"):], got.Type.String()[len("func(*sqlite.conn"):], m.Name)
	}
	for _, iface := range []reflect.Type{
		reflect.TypeFor[driver.NamedValueChecker](),
		reflect.TypeFor[driver.SessionResetter](),
		reflect.TypeFor[driver.Validator](),
		reflect.TypeFor[driver.Pinger](),
		reflect.TypeFor[driver.ExecerContext](),
		reflect.TypeFor[driver.QueryerContext](),
		reflect.TypeFor[driver.ConnPrepareContext](),
		reflect.TypeFor[driver.ConnBeginTx](),
		reflect.TypeFor[msqlite.FileControl](),
		reflect.TypeFor[msqlite.DBStatus](),
		reflect.TypeFor[msqlite.HookRegisterer](),
		reflect.TypeFor[msqlite.AuthorizerRegisterer](),
		reflect.TypeFor[msqlite.ExecQuerierContext](),
	} {
		require.Equal(t, innerT.Implements(iface), oursT.Implements(iface), iface.String())
	}
	require.False(t, oursT.Implements(reflect.TypeFor[driver.NamedValueChecker]()))

	// And through the escape hatch a user reaches modernc's features.
	d, _ := newFileDB(t)
	require.NoError(t, d.CreateSchema(ctx, "x", false))
	sc, err = d.SQL().Conn(ctx)
	require.NoError(t, err)
	defer sc.Close()
	require.NoError(t, sc.Raw(func(dc any) error {
		_, err := dc.(msqlite.FileControl).FileControlDataVersion("x")
		if err != nil {
			return err
		}
		ro, err := dc.(interface{ IsReadOnly(string) (bool, error) }).IsReadOnly("x")
		require.False(t, ro)
		return err
	}))
	require.Equal(t, d.SQL().Driver(), raw.Driver(), "the same driver as sql.Open(\"sqlite\")")
}
