package registry_test

// Hostile input (issue 4): every public entry point and every message
// answers hostile input with a typed error, and nothing else in the
// database changes. Each test compares the database's catalog — PostgreSQL's
// pg_namespace and pg_class; SQLite's files (the main file and its .schemas
// directory) and each file's sqlite_master — before and after.

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// hostileDB is one test database whose catalog a test can list.
type hostileDB struct {
	dialect string // "sqlite" or "postgres"
	url     string
	dir     string // sqlite: the directory holding the database file (and nothing else)
}

func newHostileDB(t *testing.T, dialect string) *hostileDB {
	t.Helper()
	if dialect == "postgres" {
		return &hostileDB{dialect: dialect, url: testdb.NewPostgresDatabase(t)}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	return &hostileDB{dialect: dialect, url: "sqlite:///" + path, dir: dir}
}

// eachHostileDB runs f on a fresh SQLite and a fresh PostgreSQL database
// (the latter skips, naming DBACTOR_TEST_DATABASE, when there is none).
func eachHostileDB(t *testing.T, f func(t *testing.T, h *hostileDB)) {
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) { f(t, newHostileDB(t, d)) })
	}
}

// catalog lists, sorted, every schema and relation of the database: on
// PostgreSQL "schema:<name>" and "rel:<schema>.<name>:<relkind>" (system
// schemas' relations left out); on SQLite "file:<path>" for every file under
// the database's directory (the lock file and journals left out) and
// "obj:<path>:<type>:<name>" for every sqlite_master row of each database
// file. It reads through a connection of its own, never the registry's.
func (h *hostileDB) catalog(t *testing.T) []string {
	t.Helper()
	ctx := testCtx(t)
	if h.dialect == "postgres" {
		db, err := sql.Open("pgx", h.url)
		require.NoError(t, err)
		defer db.Close()
		rows, err := db.QueryContext(ctx, `
			SELECT 'schema:' || nspname::text FROM pg_catalog.pg_namespace
			WHERE nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
			UNION ALL
			SELECT 'rel:' || n.nspname::text || '.' || c.relname::text || ':' || c.relkind::text
			FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
			  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'`)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		slices.Sort(out)
		return out
	}
	var out []string
	require.NoError(t, filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(h.dir, p)
		if err != nil {
			return err
		}
		name := d.Name()
		if name == ".lock" || name == ".version" || strings.HasSuffix(name, "-journal") || strings.HasSuffix(name, "-wal") || strings.HasSuffix(name, "-shm") {
			return nil
		}
		out = append(out, "file:"+rel)
		db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: p, RawQuery: "mode=ro"}).String())
		require.NoError(t, err)
		defer db.Close()
		rows, err := db.QueryContext(ctx, "SELECT type || ':' || name FROM sqlite_master")
		require.NoError(t, err, rel)
		defer rows.Close()
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, "obj:"+rel+":"+s)
		}
		return rows.Err()
	}))
	slices.Sort(out)
	return out
}

// added is what after has that before has not.
func added(before, after []string) []string {
	var out []string
	for _, s := range after {
		if !slices.Contains(before, s) {
			out = append(out, s)
		}
	}
	return out
}

// hostileRegistry makes a connected registry on h (connected, so every
// schema call runs on the pools it holds) and waits until the database
// exists: its catalog is then stable.
func hostileRegistry(t *testing.T, h *hostileDB, cfg registry.Config) (*actor.ActorSystem, *registry.Registry) {
	t.Helper()
	sys := newSystem(t)
	cfg.Database = h.url
	reg := newRegistry(t, sys, cfg)
	require.NoError(t, reg.Connect(testCtx(t)))
	t.Cleanup(func() { _ = reg.Disconnect(context.Background()) })
	return sys, reg
}

// invalidNames are names no schema, table or column may have: refused with
// ErrInvalidName before any SQL, on every dialect.
var invalidNames = []struct{ label, name string }{
	{"empty", ""},
	{"nul", "\x00"},
	{"nul-inside", "a\x00b"},
	{"nul-truncation", "tenant_a\x00evil"},
	{"64-bytes", strings.Repeat("a", 64)},
	{"200-bytes", strings.Repeat("a", 200)},
	{"64-bytes-unicode", strings.Repeat("é", 32)},
	{"invalid-utf8", "\xff"},
	{"truncated-utf8", "a\xc3"},
}

// oddNames are valid names that only quoting keeps from being SQL: each
// must name exactly itself, on every dialect.
var oddNames = []string{
	`a"b;c`,
	`x"; DROP TABLE y; --`,
	`x'; DROP TABLE y; --`,
	`"`,
	" ",
	"é",
	"日本",
	"🙂",
	"👩‍💻",
	"a\u200fb",
	"\u202eevil",
	"שלום",
	`a\b`,
	"$$",
	"--",
	"/*",
	"[x]",
	"`x`",
	"a.b",
	"../etc",
	"a/b",
	"%2e%2e",
	"Tenant",
	strings.Repeat("a", 63),
	strings.Repeat("é", 31) + "a",
}

// Item is the model the hostile tests create tables of.
type Item struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

// Schema names: invalid ones are refused with ErrInvalidName by every entry
// point and change nothing; odd valid ones create exactly the schema named,
// with the model tables inside, and drop it again; dialect-reserved ones get
// the dialect's typed error and change nothing.
func TestHostileSchemaNames(t *testing.T) {
	eachHostileDB(t, func(t *testing.T, h *hostileDB) {
		ctx := testCtx(t)
		_, reg := hostileRegistry(t, h, registry.Config{})
		item, err := reg.RegisterModel(ctx, Item{})
		require.NoError(t, err)
		before := h.catalog(t)

		for _, tc := range invalidNames {
			for i, err := range []error{
				reg.CreateSchema(ctx, tc.name),
				reg.CreateSchema(ctx, tc.name, registry.IfNotExists(), registry.WithModels()),
				reg.DropSchema(ctx, tc.name),
				reg.DropSchema(ctx, tc.name, registry.IfExists(), registry.Cascade()),
			} {
				require.ErrorIs(t, err, registry.ErrInvalidName, "%s: call %d", tc.label, i)
				require.NotErrorIs(t, err, registry.ErrSchema, "%s: refused before any SQL", tc.label)
			}
			_, err := registry.QualifiedTable(tc.name, "users")
			if tc.name == "" {
				require.NoError(t, err, "an empty schema leaves the table unqualified")
			} else {
				require.ErrorIs(t, err, registry.ErrInvalidName, tc.label)
			}
			_, err = registry.QualifiedTable("tenant", tc.name)
			require.ErrorIs(t, err, registry.ErrInvalidName, tc.label)
			if tc.name != "" {
				_, err = item.QualifiedTable(tc.name)
				require.ErrorIs(t, err, registry.ErrInvalidName, tc.label)
			}
		}
		require.Equal(t, before, h.catalog(t), "refused names change nothing")

		// Per dialect: names the database itself refuses, typed.
		reserved := map[string][]struct {
			name string
			want error
		}{
			"sqlite":   {{"main", registry.ErrSchema}, {"MAIN", registry.ErrSchema}, {"temp", registry.ErrUnsupported}, {"TEMP", registry.ErrUnsupported}},
			"postgres": {{"public", registry.ErrSchema}, {"pg_catalog", registry.ErrSchema}, {"pg_evil", registry.ErrSchema}, {"information_schema", registry.ErrSchema}},
		}[h.dialect]
		for _, r := range reserved {
			err := reg.CreateSchema(ctx, r.name, registry.WithModels())
			require.ErrorIs(t, err, r.want, "%q", r.name)
			require.Equal(t, before, h.catalog(t), "%q: a refused create changes nothing", r.name)
		}

		for _, name := range oddNames {
			require.NoError(t, reg.CreateSchema(ctx, name, registry.WithModels()), "%q", name)
			list, err := reg.Schemas(ctx, "")
			require.NoError(t, err)
			require.Contains(t, list, name, "the schema has exactly the name given")
			after := h.catalog(t)
			for _, b := range before {
				require.Contains(t, after, b, "%q: nothing that existed went away", name)
			}
			diff := added(before, after)
			require.NotEmpty(t, diff)
			if h.dialect == "postgres" {
				require.Contains(t, diff, "schema:"+name)
				require.Contains(t, diff, "rel:"+name+".items:r", "%q: the model table, inside the schema", name)
				for _, d := range diff {
					require.True(t, d == "schema:"+name || strings.HasPrefix(d, "rel:"+name+"."), "%q: %q was created outside the schema", name, d)
				}
			} else {
				var file string
				for _, d := range diff {
					if f, ok := strings.CutPrefix(d, "file:"); ok {
						require.Empty(t, file, "%q: one file per schema", name)
						file = f
					}
				}
				require.True(t, strings.HasPrefix(file, "db.sqlite.schemas"+string(filepath.Separator)), "%q: %q", name, file)
				require.Contains(t, diff, "obj:"+file+":table:items")
				for _, d := range diff {
					require.True(t, d == "file:"+file || strings.HasPrefix(d, "obj:"+file+":"), "%q: %q is outside the schema's file", name, d)
				}
			}
			// The table works under its quoted name, and only there.
			q := qt(t, item, name)
			_, err = reg.Database().DB().ExecContext(ctx, "INSERT INTO "+q+" (name) VALUES ('x')")
			require.NoError(t, err)
			var n int
			require.NoError(t, reg.Database().DB().QueryRowContext(ctx, "SELECT count(*) FROM "+q).Scan(&n))
			require.Equal(t, 1, n)

			require.NoError(t, reg.DropSchema(ctx, name, registry.Cascade()), "%q", name)
			require.Equal(t, before, h.catalog(t), "%q: dropped without a trace", name)
		}
		requireCount(t, reg.Database(), 1, true)
	})
}

// Table and model-schema names through RegisterModel and CreateAll: invalid
// ones are ErrInvalidModel (and ErrInvalidName) and register nothing; odd
// valid ones create exactly the table (and schema) named.
func TestHostileModelNames(t *testing.T) {
	eachHostileDB(t, func(t *testing.T, h *hostileDB) {
		ctx := testCtx(t)
		_, reg := hostileRegistry(t, h, registry.Config{})
		before := h.catalog(t)
		def := "public"
		if h.dialect == "sqlite" {
			def = "main"
		}

		for _, tc := range invalidNames {
			if tc.name == "" {
				continue // the default: "" means no table/schema option
			}
			for _, opt := range []models.Option{models.Table(tc.name), models.Schema(tc.name), models.Name(tc.name)} {
				_, err := reg.RegisterModel(ctx, Item{}, opt)
				require.ErrorIs(t, err, models.ErrInvalidModel, tc.label)
				require.ErrorIs(t, err, registry.ErrInvalidName, tc.label)
			}
		}
		require.Empty(t, reg.Models())
		require.NoError(t, reg.CreateAll(ctx))
		require.Equal(t, before, h.catalog(t), "refused models change nothing")

		for _, name := range oddNames {
			m, err := reg.RegisterModel(ctx, Item{}, models.Table(name))
			require.NoError(t, err, "%q", name)
			require.Equal(t, name, m.Table())
			require.NoError(t, reg.CreateAll(ctx), "%q", name)
			diff := added(before, h.catalog(t))
			if h.dialect == "postgres" {
				require.Contains(t, diff, "rel:public."+name+":r", "%q", name)
				for _, d := range diff {
					require.True(t, strings.HasPrefix(d, "rel:public."), "%q: %q", name, d)
				}
			} else {
				require.Contains(t, diff, "obj:db.sqlite:table:"+name, "%q", name)
				for _, d := range diff {
					require.True(t, strings.HasPrefix(d, "obj:db.sqlite:"), "%q: %q", name, d)
				}
			}
			_, err = reg.Database().DB().ExecContext(ctx, "INSERT INTO "+qt(t, m, "")+" (name) VALUES ('x')")
			require.NoError(t, err)
			require.NoError(t, reg.DropAll(ctx), "%q", name)
			require.Equal(t, before, h.catalog(t), "%q", name)
			deleted, err := reg.DeleteModel(ctx, "Item")
			require.NoError(t, err)
			require.True(t, deleted)

			// Bound to a schema of that name.
			m, err = reg.RegisterModel(ctx, Item{}, models.Schema(name))
			require.NoError(t, err, "%q", name)
			require.NoError(t, reg.CreateAll(ctx), "%q", name)
			list, err := reg.Schemas(ctx, "")
			require.NoError(t, err)
			require.Contains(t, list, name)
			require.Contains(t, list, def)
			_, err = reg.Database().DB().ExecContext(ctx, "INSERT INTO "+qt(t, m, name)+" (name) VALUES ('x')")
			require.NoError(t, err)
			require.NoError(t, reg.DropAll(ctx))
			require.NoError(t, reg.DropSchema(ctx, name, registry.Cascade()))
			require.Equal(t, before, h.catalog(t), "%q", name)
			_, err = reg.DeleteModel(ctx, "Item")
			require.NoError(t, err)
		}

		if h.dialect == "sqlite" {
			// SQLite reserves sqlite_* for itself: the failure is typed and
			// the transaction leaves nothing behind.
			_, err := reg.RegisterModel(ctx, Item{}, models.Table("sqlite_evil"))
			require.NoError(t, err)
			_, err = reg.RegisterModel(ctx, User{})
			require.NoError(t, err)
			require.ErrorIs(t, reg.CreateAll(ctx), registry.ErrSchema)
			require.Equal(t, before, h.catalog(t))
		}
		requireCount(t, reg.Database(), 1, true)
	})
}

// An invalid Config.Schema never reaches SQL: quoting would drop the NUL
// (or PostgreSQL would truncate the name), so DDL would act on another
// schema — DropAll drops with CASCADE.
func TestHostileRegistrySchema(t *testing.T) {
	eachHostileDB(t, func(t *testing.T, h *hostileDB) {
		ctx := testCtx(t)
		// The schemas the invalid names would collapse to (quoting drops a
		// NUL, PostgreSQL truncates to 63 bytes), each with a table.
		for _, victim := range []string{"ab", strings.Repeat("a", 63)} {
			v, err := registry.New(newSystem(t), registry.Config{Database: h.url, Schema: victim})
			require.NoError(t, err)
			_, err = v.RegisterModel(ctx, Item{})
			require.NoError(t, err)
			require.NoError(t, v.CreateAll(ctx))
			require.NoError(t, v.Close(ctx))
		}
		before := h.catalog(t)

		for _, bad := range []string{"a\x00b", strings.Repeat("a", 64), "\xff"} {
			_, err := registry.New(newSystem(t), registry.Config{Database: h.url, Schema: bad})
			require.ErrorIs(t, err, registry.ErrInvalidConfig, "%q", bad)
			// Embedded with Props, the registry refuses every request.
			sys := newSystem(t)
			pid := sys.Root.Spawn(registry.Props(registry.Config{Database: h.url, Schema: bad}))
			for _, msg := range []any{&messages.CreateAll{}, &messages.DropAll{}, &messages.DropSchema{}, &messages.CreateSchema{WithModels: true}} {
				res, err := sys.Root.RequestFuture(pid, msg, 10*time.Second).Result()
				require.NoError(t, err)
				require.ErrorIs(t, replyError(res), registry.ErrInvalidConfig, "%T", msg)
			}
			require.NoError(t, sys.Root.PoisonFuture(pid).Wait())
			require.Equal(t, before, h.catalog(t), "%q: nothing created or dropped", bad)
		}
	})
}

// New refuses an invalid Config.Schema, like an invalid URL: ErrInvalidConfig
// (and ErrInvalidName), before anything is spawned.
func TestNewRefusesInvalidSchema(t *testing.T) {
	sys := newSystem(t)
	for _, bad := range []string{"a\x00b", strings.Repeat("a", 64), "\xff"} {
		reg, err := registry.New(sys, registry.Config{Database: "sqlite:///:memory:", Schema: bad})
		if err == nil {
			require.NoError(t, reg.Close(testCtx(t)))
		}
		require.ErrorIs(t, err, registry.ErrInvalidConfig, "%q", bad)
		require.ErrorIs(t, err, registry.ErrInvalidName, "%q", bad)
	}
}

// Extra database names are names, not SQL or paths: any non-blank one works
// (each its own database actor), and an unknown one is ErrUnknownDatabase
// everywhere.
func TestHostileDatabaseNames(t *testing.T) {
	eachHostileDB(t, func(t *testing.T, h *hostileDB) {
		ctx := testCtx(t)
		extra := map[string]string{}
		odd := []string{`a"b;c`, "日本", "\x00", "a/b", "..", strings.Repeat("x", 200), "\xff", "db-main"}
		for _, n := range odd {
			extra[n] = h.url
		}
		sys, reg := hostileRegistry(t, h, registry.Config{Extra: extra})
		for _, n := range odd {
			x, err := reg.Extra(n)
			require.NoError(t, err, "%q", n)
			require.Equal(t, n, x.Name())
			requireCount(t, x, 1, true)
		}
		before := h.catalog(t)

		for _, unknown := range []string{"nope", "", " ", "\x00nope", `a"b`, strings.Repeat("x", 201)} {
			if unknown != "" {
				_, err := reg.Extra(unknown)
				require.ErrorIs(t, err, registry.ErrUnknownDatabase, "%q", unknown)
			}
			if unknown == "" {
				continue // "" is the main database everywhere below
			}
			for i, err := range []error{
				reg.CreateSchema(ctx, "s", registry.OnDatabases(unknown)),
				reg.CreateSchema(ctx, "s", registry.OnDatabases("", unknown)),
				reg.DropSchema(ctx, "s", registry.OnDatabases(unknown)),
				reg.CreateAll(ctx, unknown),
				reg.CreateAll(ctx, "", unknown),
				reg.DropAll(ctx, unknown),
			} {
				require.ErrorIs(t, err, registry.ErrUnknownDatabase, "%q: call %d", unknown, i)
			}
			_, err := reg.Schemas(ctx, unknown)
			require.ErrorIs(t, err, registry.ErrUnknownDatabase)
			_, err = reg.DefaultSchema(ctx, unknown)
			require.ErrorIs(t, err, registry.ErrUnknownDatabase)
			_, err = reg.RegisterModel(ctx, Item{}, models.Database(unknown))
			require.ErrorIs(t, err, registry.ErrUnknownDatabase)
			target := &messages.Target{Database: unknown}
			for _, msg := range []any{
				&messages.Connect{Target: target},
				&messages.Disconnect{Target: target},
				&messages.Disconnect{Target: target, Force: true},
				&messages.GetStatus{Target: target},
				&messages.GetSchemas{Target: target},
				&messages.CreateSchema{Schema: "s", Databases: []string{"", unknown}},
				&messages.DropSchema{Schema: "s", Databases: []string{unknown}},
				&messages.CreateAll{Databases: []string{"", unknown}},
				&messages.DropAll{Databases: []string{unknown}},
			} {
				res, err := sys.Root.RequestFuture(reg.PID(), msg, 10*time.Second).Result()
				require.NoError(t, err, "%T: a reply, never a timeout", msg)
				require.ErrorIs(t, replyError(res), registry.ErrUnknownDatabase, "%q: %T", unknown, msg)
			}
		}
		require.Empty(t, reg.Models())
		require.Equal(t, before, h.catalog(t))
		requireCount(t, reg.Database(), 1, true)
		for _, n := range odd {
			x, _ := reg.Extra(n)
			requireCount(t, x, 1, true)
		}
	})
}

// replyError is the (first) error a protocol reply carries.
func replyError(reply any) *messages.Error {
	switch r := reply.(type) {
	case *messages.ConnectResult:
		if len(r.GetErrors()) > 0 {
			return r.GetErrors()[0]
		}
	case *messages.DisconnectResult:
		if len(r.GetErrors()) > 0 {
			return r.GetErrors()[0]
		}
	case *messages.SchemaResult:
		if len(r.GetErrors()) > 0 {
			return r.GetErrors()[0]
		}
	case *messages.Status:
		return r.GetError()
	case *messages.DatabaseList:
		return r.GetError()
	case *messages.SchemaList:
		return r.GetError()
	case *messages.ModelResult:
		return r.GetError()
	case *messages.CallbackResult:
		return r.GetError()
	}
	return nil
}

// plainStruct is a Go value no actor of dbactor handles.
type plainStruct struct{ X int }

func past() *timestamppb.Timestamp { return timestamppb.New(time.Now().Add(-time.Hour)) }

func col(name string, t messages.ColumnType, pk bool) *messages.ColumnDef {
	return &messages.ColumnDef{Name: name, Type: t, PrimaryKey: pk}
}

// Raw messages with missing, wrong or hostile fields, straight to the
// registry and database actors: each gets a reply (never a timeout) whose
// error has the right code, and nothing changes — counts, models,
// callbacks, catalog.
func TestHostileMessages(t *testing.T) {
	eachHostileDB(t, func(t *testing.T, h *hostileDB) {
		ctx := testCtx(t)
		sys, reg := hostileRegistry(t, h, registry.Config{Extra: map[string]string{"x": h.url}})
		_, err := reg.RegisterModel(ctx, Item{})
		require.NoError(t, err)
		require.NoError(t, reg.CreateAll(ctx))
		sink := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		t.Cleanup(func() { _ = sys.Root.StopFuture(sink).Wait() })
		gone := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		require.NoError(t, sys.Root.StopFuture(gone).Wait())
		x, err := reg.Extra("x")
		require.NoError(t, err)

		before := h.catalog(t)
		models := reg.TableNames()
		callbacks := reg.Callbacks()

		bigint, text := messages.ColumnType_COLUMN_TYPE_BIGINT, messages.ColumnType_COLUMN_TYPE_TEXT
		long := strings.Repeat("n", 200)
		id := col("id", bigint, true)
		type tc struct {
			label string
			msg   any
			code  messages.Code
		}
		toRegistry := []tc{
			{"connect past deadline", &messages.Connect{Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"connect zero deadline", &messages.Connect{Deadline: &timestamppb.Timestamp{}}, messages.Code_CODE_TIMEOUT},
			{"connect one, past deadline", &messages.Connect{Target: &messages.Target{Database: "x"}, Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"disconnect past deadline", &messages.Disconnect{Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"force disconnect zero deadline", &messages.Disconnect{Force: true, Deadline: &timestamppb.Timestamp{}}, messages.Code_CODE_TIMEOUT},
			{"get schemas past deadline", &messages.GetSchemas{Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"create schema past deadline", &messages.CreateSchema{Schema: "late", Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"create all past deadline", &messages.CreateAll{Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"drop all zero deadline", &messages.DropAll{Deadline: &timestamppb.Timestamp{}}, messages.Code_CODE_TIMEOUT},
			{"create schema empty", &messages.CreateSchema{}, messages.Code_CODE_INVALID_ARGUMENT},
			{"create schema empty, if not exists", &messages.CreateSchema{IfNotExists: true}, messages.Code_CODE_INVALID_ARGUMENT},
			{"create schema nul", &messages.CreateSchema{Schema: "a\x00b"}, messages.Code_CODE_INVALID_NAME},
			{"create schema long", &messages.CreateSchema{Schema: long}, messages.Code_CODE_INVALID_NAME},
			{"create schema bad utf-8", &messages.CreateSchema{Schema: "\xff", WithModels: true}, messages.Code_CODE_INVALID_NAME},
			{"drop schema nul", &messages.DropSchema{Schema: "\x00", Cascade: true}, messages.Code_CODE_INVALID_NAME},
			{"drop schema missing", &messages.DropSchema{Schema: "no_such_schema"}, messages.Code_CODE_SCHEMA},
			{"register model nil", &messages.RegisterModel{}, messages.Code_CODE_INVALID_ARGUMENT},
			{"register model no columns", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X"}}, messages.Code_CODE_INVALID_MODEL},
			{"register model empty", &messages.RegisterModel{Model: &messages.ModelDef{}}, messages.Code_CODE_INVALID_MODEL},
			{"register model nil column", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{id, nil}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model duplicate columns", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{id, col("a", text, false), col("A", text, false)}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model unknown type", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{id, col("a", messages.ColumnType(99), false)}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model negative type", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{id, col("a", messages.ColumnType(-1), false)}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model huge name", &messages.RegisterModel{Model: &messages.ModelDef{Name: long, Columns: []*messages.ColumnDef{id}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model huge table", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Table: long, Columns: []*messages.ColumnDef{id}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model huge column", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{id, col(long, text, false)}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model nul schema", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Schema: "s\x00", Columns: []*messages.ColumnDef{id}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model injected default", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{id,
				{Name: "a", Type: text, DefaultSql: "''); DROP TABLE items; --"}}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model injected on delete", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{id,
				{Name: "a", Type: bigint, ReferencesTable: "items", ReferencesColumn: "id", OnDelete: "CASCADE; DROP TABLE items"}}}}, messages.Code_CODE_INVALID_MODEL},
			{"register model unknown database", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Database: "nope", Columns: []*messages.ColumnDef{id}}}, messages.Code_CODE_UNKNOWN_DATABASE},
			{"register model unknown on conflict", &messages.RegisterModel{Model: &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{id}}, OnConflict: messages.OnConflict(99)}, messages.Code_CODE_INVALID_ARGUMENT},
			{"register model collision", &messages.RegisterModel{Model: &messages.ModelDef{Name: "Item", Columns: []*messages.ColumnDef{id}}}, messages.Code_CODE_MODEL_COLLISION},
			{"register callback nil pid", &messages.RegisterCallback{Model: "Item"}, messages.Code_CODE_INVALID_ARGUMENT},
			{"register callback empty pid", &messages.RegisterCallback{Callback: &messages.Pid{}}, messages.Code_CODE_INVALID_ARGUMENT},
			{"register callback missing actor", &messages.RegisterCallback{Callback: &messages.Pid{Id: "no-such-actor"}}, messages.Code_CODE_INVALID_ARGUMENT},
			{"register callback stopped actor", &messages.RegisterCallback{Callback: &messages.Pid{Address: gone.GetAddress(), Id: gone.GetId()}, Mode: messages.CallbackMode_CALLBACK_MODE_PERSISTENT}, messages.Code_CODE_INVALID_ARGUMENT},
			{"register callback unknown mode", &messages.RegisterCallback{Callback: &messages.Pid{Id: sink.GetId()}, Mode: messages.CallbackMode(42)}, messages.Code_CODE_INVALID_ARGUMENT},
			{"get status unknown", &messages.GetStatus{Target: &messages.Target{Database: "nope"}}, messages.Code_CODE_UNKNOWN_DATABASE},
			{"foreign protocol message", &messages.ModelRegistered{Name: "Item"}, messages.Code_CODE_INVALID_ARGUMENT},
			{"reply as request", &messages.ConnectResult{}, messages.Code_CODE_INVALID_ARGUMENT},
			{"status as request", &messages.Status{}, messages.Code_CODE_INVALID_ARGUMENT},
			{"plain Go struct", plainStruct{X: 1}, messages.Code_CODE_INVALID_ARGUMENT},
			{"plain Go pointer", &plainStruct{}, messages.Code_CODE_INVALID_ARGUMENT},
			{"string", "connect", messages.Code_CODE_INVALID_ARGUMENT},
			{"nil", nil, messages.Code_CODE_INVALID_ARGUMENT},
		}
		toDatabase := []tc{
			{"connect past deadline", &messages.Connect{Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"connect zero deadline", &messages.Connect{Deadline: &timestamppb.Timestamp{}}, messages.Code_CODE_TIMEOUT},
			{"disconnect past deadline", &messages.Disconnect{Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"force disconnect past deadline", &messages.Disconnect{Force: true, Deadline: past()}, messages.Code_CODE_TIMEOUT},
			{"register model", &messages.RegisterModel{}, messages.Code_CODE_INVALID_ARGUMENT},
			{"create schema", &messages.CreateSchema{Schema: "s"}, messages.Code_CODE_INVALID_ARGUMENT},
			{"foreign protocol message", &messages.ModelRegistered{Name: "Item"}, messages.Code_CODE_INVALID_ARGUMENT},
			{"reply as request", &messages.DisconnectResult{}, messages.Code_CODE_INVALID_ARGUMENT},
			{"plain Go struct", plainStruct{X: 1}, messages.Code_CODE_INVALID_ARGUMENT},
			{"nil", nil, messages.Code_CODE_INVALID_ARGUMENT},
		}
		check := func(pid *actor.PID, cases []tc) {
			t.Helper()
			for _, c := range cases {
				res, err := sys.Root.RequestFuture(pid, c.msg, 10*time.Second).Result()
				require.NoError(t, err, "%s: a reply, never a timeout", c.label)
				e := replyError(res)
				require.NotNil(t, e, "%s: %T %v carries no error", c.label, res, res)
				require.Equal(t, c.code, e.GetCode(), "%s: %v", c.label, e)
				require.ErrorIs(t, e, c.code.Sentinel(), c.label)
			}
		}
		check(reg.PID(), toRegistry)
		check(reg.Database().PID(), toDatabase)
		check(x.PID(), toDatabase)

		// Unknown names are no error for DeleteModel (Edgy's delete_model
		// returns False), and change nothing.
		for _, name := range []string{"nope", "", "\x00", long} {
			res, err := sys.Root.RequestFuture(reg.PID(), &messages.DeleteModel{Name: name}, 10*time.Second).Result()
			require.NoError(t, err)
			require.Nil(t, replyError(res))
			require.False(t, res.(*messages.ModelResult).GetChanged())
		}

		require.Equal(t, models, reg.TableNames())
		require.Equal(t, callbacks, reg.Callbacks())
		requireCount(t, reg.Database(), 1, true)
		requireCount(t, x, 1, true)
		list, err := reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.NotContains(t, list, "late")
		require.Equal(t, before, h.catalog(t))
	})
}

// After Close every facade call fails fast with ErrClosed — never a panic,
// never a hang — and the handles hold no pool.
func TestHostileCallsAfterClose(t *testing.T) {
	eachHostileDB(t, func(t *testing.T, h *hostileDB) {
		ctx := testCtx(t)
		sys := newSystem(t)
		reg, err := registry.New(sys, registry.Config{Database: h.url, Extra: map[string]string{"x": h.url}})
		require.NoError(t, err)
		require.NoError(t, reg.Connect(ctx))
		_, err = reg.RegisterModel(ctx, Item{})
		require.NoError(t, err)
		sink := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		t.Cleanup(func() { _ = sys.Root.StopFuture(sink).Wait() })
		main := reg.Database()
		x, err := reg.Extra("x")
		require.NoError(t, err)
		require.NoError(t, reg.Close(ctx))

		dbCalls := func(db *registry.Database) map[string]func() error {
			return map[string]func() error{
				"Connect":         func() error { _, err := db.Connect(ctx); return err },
				"Disconnect":      func() error { _, err := db.Disconnect(ctx); return err },
				"ForceDisconnect": func() error { _, err := db.ForceDisconnect(ctx); return err },
				"Status":          func() error { _, err := db.Status(ctx); return err },
			}
		}
		calls := map[string]func() error{
			"Connect":             func() error { return reg.Connect(ctx) },
			"Disconnect":          func() error { return reg.Disconnect(ctx) },
			"CreateSchema":        func() error { return reg.CreateSchema(ctx, "s") },
			"CreateSchema models": func() error { return reg.CreateSchema(ctx, "s", registry.WithModels(), registry.OnDatabases("", "x")) },
			"DropSchema":          func() error { return reg.DropSchema(ctx, "s", registry.IfExists()) },
			"CreateAll":           func() error { return reg.CreateAll(ctx) },
			"DropAll":             func() error { return reg.DropAll(ctx, "x") },
			"Schemas":             func() error { _, err := reg.Schemas(ctx, ""); return err },
			"DefaultSchema":       func() error { _, err := reg.DefaultSchema(ctx, "x"); return err },
			"RegisterModel":       func() error { _, err := reg.RegisterModel(ctx, User{}); return err },
			"RegisterModel again": func() error { _, err := reg.RegisterModel(ctx, Item{}, models.ReplaceExisting()); return err },
			"DeleteModel":         func() error { _, err := reg.DeleteModel(ctx, "Item"); return err },
			"RegisterCallback":    func() error { return reg.RegisterCallback(ctx, "", sink) },
			"RegisterCallbackFunc": func() error {
				_, err := reg.RegisterCallbackFunc(ctx, "", func(*messages.ModelRegistered) {})
				return err
			},
			"Copy": func() error { _, err := reg.Copy(ctx); return err },
		}
		for name, f := range dbCalls(main) {
			calls["main."+name] = f
		}
		for name, f := range dbCalls(x) {
			calls["x."+name] = f
		}
		for name, call := range calls {
			start := time.Now()
			var err error
			require.NotPanics(t, func() { err = call() }, name)
			require.ErrorIs(t, err, registry.ErrClosed, name)
			require.Less(t, time.Since(start), 2*time.Second, "%s: fails fast", name)
		}
		for _, db := range []*registry.Database{main, x} {
			require.Nil(t, db.Pool())
			require.Nil(t, db.DB())
		}
		require.NoError(t, reg.Close(ctx), "Close is idempotent")
		// Local reads keep working on what was registered.
		_, err = reg.Model("Item")
		require.NoError(t, err)
		_, err = reg.Extra("nope")
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		// Messages to the stopped actors: a dead letter at once, not a hang.
		for _, pid := range []*actor.PID{reg.PID(), main.PID(), x.PID()} {
			start := time.Now()
			_, err := sys.Root.RequestFuture(pid, &messages.GetStatus{}, 10*time.Second).Result()
			require.Error(t, err)
			require.False(t, errors.Is(err, actor.ErrTimeout), "%v", err)
			require.Less(t, time.Since(start), 2*time.Second)
		}
	})
}

// A database named twice in one schema request counts once; two names of
// one shared database stay two databases, as in Edgy (each has its own
// models), so a plain CreateSchema on both finds the schema there the
// second time.
func TestHostileDuplicateDatabases(t *testing.T) {
	eachHostileDB(t, func(t *testing.T, h *hostileDB) {
		ctx := testCtx(t)
		sys, owner := hostileRegistry(t, h, registry.Config{})
		reg := newRegistry(t, sys, registry.Config{Database: h.url},
			registry.WithExtraDatabase("a", owner.Database()), registry.WithExtraDatabase("b", owner.Database()))
		_, err := reg.RegisterModel(ctx, Item{}, models.Database("a"))
		require.NoError(t, err)
		before := h.catalog(t)

		require.NoError(t, reg.CreateSchema(ctx, "dup", registry.OnDatabases("", "")), "the same name twice counts once")
		require.NoError(t, reg.DropSchema(ctx, "dup", registry.OnDatabases("", "", "")))
		require.ErrorIs(t, reg.CreateSchema(ctx, "dup", registry.OnDatabases("a", "b")), registry.ErrSchema,
			"two names of one database: the second create finds the schema")
		require.NoError(t, reg.CreateSchema(ctx, "dup", registry.IfNotExists(), registry.OnDatabases("a", "b")))
		require.NoError(t, reg.DropSchema(ctx, "dup", registry.IfExists(), registry.OnDatabases("b", "a", "a")))
		require.NoError(t, reg.CreateAll(ctx, "a", "b", "a"))
		require.NoError(t, reg.DropAll(ctx, "b", "a"))
		require.Equal(t, before, h.catalog(t))
		requireCount(t, owner.Database(), 1, true)
	})
}

// RegisterCallback for a model name no model can have, or with a mode this
// binary does not know, is refused — for a func callback before its actor
// is spawned — and nothing is stored.
func TestHostileCallbacks(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: "sqlite:///:memory:"})
	sink := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(sink).Wait() })
	processes := localProcesses(sys)
	badMode := func(m *messages.RegisterCallback) { m.Mode = messages.CallbackMode(42) }
	fn := func(*messages.ModelRegistered) {}

	for _, tc := range invalidNames {
		if tc.name == "" {
			continue // every model
		}
		require.ErrorIs(t, reg.RegisterCallback(ctx, tc.name, sink), registry.ErrInvalidName, tc.label)
		_, err := reg.RegisterCallbackFunc(ctx, tc.name, fn)
		require.ErrorIs(t, err, registry.ErrInvalidName, tc.label)
	}
	require.ErrorIs(t, reg.RegisterCallback(ctx, "User", sink, badMode), messages.ErrInvalidArgument)
	_, err := reg.RegisterCallbackFunc(ctx, "", fn, badMode)
	require.ErrorIs(t, err, messages.ErrInvalidArgument)
	gone := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	require.NoError(t, sys.Root.StopFuture(gone).Wait())
	require.ErrorIs(t, reg.RegisterCallback(ctx, "", gone), messages.ErrInvalidArgument, "a stopped local actor")

	require.Zero(t, reg.Callbacks())
	require.Equal(t, processes, localProcesses(sys), "no callback actor was spawned")
	// A valid registration still works afterwards.
	require.NoError(t, reg.RegisterCallback(ctx, "", sink))
	require.Equal(t, 1, reg.Callbacks())
}

// The content-type helpers with hostile arguments: a nil Querier (or the
// nil *sql.DB of a database that is not connected) is ErrInvalidArgument,
// not a panic; an invalid schema is ErrInvalidName; hostile model names and
// collision keys are values, never SQL.
func TestHostileContentTypes(t *testing.T) {
	eachHostileDB(t, func(t *testing.T, h *hostileDB) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: h.url, WithContentType: true})
		var notConnected *sql.DB = reg.Database().DB()
		require.Nil(t, notConnected)
		for _, q := range []actors.Querier{nil, notConnected, (*sql.Tx)(nil), (*sql.Conn)(nil)} {
			require.NotPanics(t, func() {
				_, err := reg.NewContentType(ctx, q, "", "Company", "")
				require.ErrorIs(t, err, messages.ErrInvalidArgument)
				_, err = reg.ContentTypeByID(ctx, q, "", 1)
				require.ErrorIs(t, err, messages.ErrInvalidArgument)
			})
		}

		require.NoError(t, reg.Connect(ctx))
		t.Cleanup(func() { _ = reg.Disconnect(context.Background()) })
		require.NoError(t, reg.CreateAll(ctx))
		db := reg.Database().DB()
		before := h.catalog(t)
		for _, tc := range invalidNames {
			if tc.name == "" {
				continue // the registry schema
			}
			_, err := reg.NewContentType(ctx, db, tc.name, "Company", "")
			require.ErrorIs(t, err, registry.ErrInvalidName, tc.label)
			_, err = reg.ContentTypeByID(ctx, db, tc.name, 1)
			require.ErrorIs(t, err, registry.ErrInvalidName, tc.label)
		}
		for _, odd := range []string{`x'); DROP TABLE contenttypes; --`, `a"b;c`, "日本"} {
			id, err := reg.NewContentType(ctx, db, "", odd, odd)
			require.NoError(t, err)
			row, err := reg.ContentTypeByID(ctx, db, "", id)
			require.NoError(t, err)
			require.Equal(t, odd, row.Name)
			require.Equal(t, odd, row.CollisionKey.String)
		}
		require.Equal(t, before, h.catalog(t))
	})
}

// A deadline that is no point in time is refused, not read as "none".
func TestHostileInvalidDeadline(t *testing.T) {
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	bad := &timestamppb.Timestamp{Nanos: -1}
	for _, msg := range []any{
		&messages.Connect{Deadline: bad},
		&messages.Disconnect{Deadline: bad},
		&messages.CreateSchema{Schema: "s", Deadline: bad},
		&messages.CreateAll{Deadline: bad},
	} {
		reply, err := sys.Root.RequestFuture(reg.PID(), msg, 10*time.Second).Result()
		require.NoError(t, err, "%T", msg)
		var e error
		switch r := reply.(type) {
		case *messages.ConnectResult:
			e = messages.Join(r.GetErrors())
		case *messages.DisconnectResult:
			e = messages.Join(r.GetErrors())
		case *messages.SchemaResult:
			e = messages.Join(r.GetErrors())
		}
		require.ErrorIs(t, e, messages.ErrInvalidArgument, "%T", msg)
	}
	requireCount(t, reg.Database(), 0, false)
}
