package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/messages"
)

// childEnv names the environment variable that makes the test binary a
// child process running one schema operation (see runChild).
const childEnv = "DBACTOR_SQLITE_CHILD"

// childMain runs the operation named in childEnv ("create <path> <schema>",
// "drop <path> <schema>") instead of the tests, and exits: what another
// process using the same database does.
func childMain() {
	var op, path, name string
	if _, err := fmt.Sscan(os.Getenv(childEnv), &op, &path, &name); err != nil {
		fmt.Fprintln(os.Stderr, "bad", childEnv, err)
		os.Exit(2)
	}
	d, err := openForBench(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	switch op {
	case "create":
		err = d.CreateSchema(ctx, name, false)
		if err == nil {
			_, err = d.SQL().ExecContext(ctx, fmt.Sprintf(`CREATE TABLE "%s".users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO "%s".users (name) VALUES ('child')`, name, name))
		}
	case "drop":
		err = d.DropSchema(ctx, name, false, true)
	default:
		err = fmt.Errorf("unknown operation %q", op)
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild runs op on the database at path in a child process (this test
// binary, re-executed) and waits for it.
func runChild(t *testing.T, op, path, name string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s", childEnv, op, path, name))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child %s %s: %s", op, name, out)
}

// otherSide changes the schemas of the database at path the way another
// registry (an independent DB on the same file) or another process does.
type otherSide struct {
	name   string
	create func(t *testing.T, path, schema string)
	drop   func(t *testing.T, path, schema string)
}

func otherSides() []otherSide {
	inProcess := func(t *testing.T, path string) *DB {
		t.Helper()
		d, err := openForBench(path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = d.Close() })
		return d
	}
	return []otherSide{
		{
			name: "another DB",
			create: func(t *testing.T, path, schema string) {
				d := inProcess(t, path)
				ctx := context.Background()
				require.NoError(t, d.CreateSchema(ctx, schema, false))
				_, err := d.SQL().ExecContext(ctx, fmt.Sprintf(`CREATE TABLE "%s".users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO "%s".users (name) VALUES ('child')`, schema, schema))
				require.NoError(t, err)
				require.NoError(t, d.Close())
			},
			drop: func(t *testing.T, path, schema string) {
				d := inProcess(t, path)
				require.NoError(t, d.DropSchema(context.Background(), schema, false, true))
				require.NoError(t, d.Close())
			},
		},
		{
			name:   "another process",
			create: func(t *testing.T, path, schema string) { runChild(t, "create", path, schema) },
			drop:   func(t *testing.T, path, schema string) { runChild(t, "drop", path, schema) },
		},
	}
}

// TestOthersSchemasSeenAtNextUse: schemas another DB on the same file or
// another process creates or drops are seen by every connection of this
// pool at its next use — no Schemas call, no reconnect — and a write to a
// schema dropped under a connection held meanwhile is a typed error, never
// SQLite's raw "attempt to write a readonly database".
func TestOthersSchemasSeenAtNextUse(t *testing.T) {
	for _, other := range otherSides() {
		t.Run(other.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "app.db")
			b := openFile(t, path)
			db := b.SQL()
			db.SetMaxIdleConns(nConns)
			scs, _ := holdConns(t, db, nConns) // every connection opened before
			release(t, scs)

			other.create(t, path, "tenant")
			require.Equal(t, 1, count(t, db, `SELECT count(*) FROM "tenant"."users"`))
			scs, _ = holdConns(t, db, nConns)
			for i, sc := range scs {
				require.Equal(t, []string{"tenant"}, attachedOn(t, sc), "connection %d", i)
			}
			held := scs[0] // keeps its attachment across the drop
			release(t, scs[1:])
			require.True(t, b.HasSchema("tenant"))

			other.drop(t, path, "tenant")
			_, err := held.ExecContext(ctx, `INSERT INTO "tenant"."users" (name) VALUES ('stale')`)
			require.Error(t, err)
			require.ErrorIs(t, err, messages.ErrSchema)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "use schema", e.Op)
			require.Contains(t, err.Error(), "a schema dropped")
			require.NoError(t, held.Close())

			_, err = db.ExecContext(ctx, `INSERT INTO "tenant"."users" (name) VALUES ('late')`)
			require.ErrorContains(t, err, "no such table: tenant.users")
			require.False(t, b.HasSchema("tenant"))
			scs, _ = holdConns(t, db, nConns)
			for i, sc := range scs {
				require.Empty(t, attachedOn(t, sc), "connection %d", i)
			}
			release(t, scs)

			// Created again (a new, empty generation): seen again.
			other.create(t, path, "tenant")
			var name string
			require.NoError(t, db.QueryRowContext(ctx, `SELECT name FROM "tenant"."users"`).Scan(&name))
			require.Equal(t, "child", name)
		})
	}
}

// TestOthersSchemasSeenInSQLTx: a transaction begun after another DB
// created a schema sees it (the connection catches up when it is handed
// out for the transaction).
func TestOthersSchemasSeenInSQLTx(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	b := openFile(t, path)
	other := otherSides()[0]
	other.create(t, path, "tenant")
	tx, err := b.SQL().BeginTx(ctx, &sql.TxOptions{})
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	require.Equal(t, 1, count(t, tx, `SELECT count(*) FROM "tenant"."users"`))
}

// TestVersionFileStartedForOldDirectories: a schema directory without a
// version file (made before there was one) gets one when a DB opens it, and
// changes are seen from then on.
func TestVersionFileStartedForOldDirectories(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	a := openFile(t, path)
	require.NoError(t, a.CreateSchema(ctx, "old", false))
	require.NoError(t, os.Remove(filepath.Join(path+".schemas", versionName)))
	b := openFile(t, path)
	require.True(t, readVersion(b.versionPath).ok, "started by Open")
	require.True(t, b.HasSchema("old"))
	other := openFile(t, path)
	require.NoError(t, other.CreateSchema(ctx, "new", false))
	require.True(t, b.HasSchema("new"))
}
