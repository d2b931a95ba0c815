package models

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

// The tests in this file execute the generated DDL on real databases, each
// against four targets:
//
//   - sqlite/main: SQLite, schema "" (the main database); an attached
//     database is the decoy.
//   - sqlite/attached: SQLite, the schema is an attached database (with an
//     awkward name); the main database is the decoy.
//   - postgres/qualified: a throwaway schema (awkward name) passed to the
//     DDL; search_path points at a decoy schema, so that anything left
//     unqualified by mistake lands in the wrong place.
//   - postgres/unqualified: schema "", search_path points at the throwaway
//     schema; a second throwaway schema, passed explicitly, is the decoy.
//
// The decoy holds a twin of the referenced tables, so a foreign key that
// resolved to the wrong schema would make the tests fail.

// rowScanner is *sql.Row or pgx.Row.
type rowScanner interface{ Scan(dest ...any) error }

// target is a database and a schema to run DDL and rows against.
type target struct {
	dialect dsn.Dialect
	// schema is what the tests pass to the DDL methods; decoy is a schema
	// that, passed to the DDL methods, puts tables somewhere else.
	schema, decoy string
	// home and elsewhere name where schema's and decoy's objects land (for
	// objectIn).
	home, elsewhere string
	exec            func(t *testing.T, sql string, args ...any) error
	queryRow        func(t *testing.T, sql string, args ...any) rowScanner
	// rows is a database/sql handle on the same database and search_path,
	// for the functions that take a RowQuerier.
	rows RowQuerier
	// objectIn returns, of home and elsewhere, where a table ("table") or
	// index ("index") with this name exists, sorted.
	objectIn func(t *testing.T, kind, name string) []string
}

// ph is the dialect's i-th placeholder (1-based).
func (tg *target) ph(i int) string {
	if tg.dialect == dsn.Postgres {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

func (tg *target) mustExec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		require.NoError(t, tg.exec(t, s), s)
	}
}

// forEachTarget runs body once per target, each with a fresh database.
func forEachTarget(t *testing.T, body func(t *testing.T, tg *target)) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T) *target
	}{
		{"sqlite/main", func(t *testing.T) *target { return sqliteTarget(t, false) }},
		{"sqlite/attached", func(t *testing.T) *target { return sqliteTarget(t, true) }},
		{"postgres/qualified", func(t *testing.T) *target { return postgresTarget(t, true) }},
		{"postgres/unqualified", func(t *testing.T) *target { return postgresTarget(t, false) }},
	} {
		t.Run(tc.name, func(t *testing.T) { body(t, tc.make(t)) })
	}
}

// sqliteTarget opens a SQLite file with foreign keys on, on a single
// connection (an ATTACH holds per connection), with a second file attached.
func sqliteTarget(t *testing.T, attached bool) *target {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "main.db")+"?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	const other = `te"nant; x`
	_, err = db.ExecContext(t.Context(), "ATTACH DATABASE ? AS "+ident.Quote(other), filepath.Join(dir, "tenant.db"))
	require.NoError(t, err)

	tg := &target{dialect: dsn.SQLite, home: "main", elsewhere: other, decoy: other, rows: db}
	if attached {
		tg.schema, tg.decoy, tg.home, tg.elsewhere = other, "", other, "main"
	}
	tg.exec = func(t *testing.T, q string, args ...any) error {
		_, err := db.ExecContext(t.Context(), q, args...)
		return err
	}
	tg.queryRow = func(t *testing.T, q string, args ...any) rowScanner {
		return db.QueryRowContext(t.Context(), q, args...)
	}
	tg.objectIn = func(t *testing.T, kind, name string) []string {
		var in []string
		for _, s := range []string{"main", other} {
			var n int
			require.NoError(t, db.QueryRowContext(t.Context(),
				"SELECT count(*) FROM "+ident.Quote(s, "sqlite_master")+" WHERE type = ? AND name = ?", kind, name).Scan(&n))
			if n > 0 {
				in = append(in, s)
			}
		}
		slices.Sort(in)
		return in
	}
	return tg
}

// postgresTarget connects to $DBACTOR_TEST_DATABASE (skipping, or failing
// under CI=true, without it) and makes two throwaway schemas, dropped at
// the end.
func postgresTarget(t *testing.T, qualified bool) *target {
	conn, err := pgx.Connect(t.Context(), testdb.PostgresDSN(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close(context.Background())) })
	home := pgSchema(t, conn, "home")
	decoy := pgSchema(t, conn, "decoy")

	tg := &target{dialect: dsn.Postgres, home: home, elsewhere: decoy}
	searchPath := decoy
	if qualified {
		tg.schema = home
	} else {
		tg.decoy = decoy
		searchPath = home
	}
	_, err = conn.Exec(t.Context(), "SET search_path TO "+ident.Quote(searchPath))
	require.NoError(t, err)
	cfg := conn.Config().Copy()
	cfg.RuntimeParams["search_path"] = ident.Quote(searchPath)
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	tg.rows = db

	tg.exec = func(t *testing.T, q string, args ...any) error {
		_, err := conn.Exec(t.Context(), q, args...)
		return err
	}
	tg.queryRow = func(t *testing.T, q string, args ...any) rowScanner {
		return conn.QueryRow(t.Context(), q, args...)
	}
	tg.objectIn = func(t *testing.T, kind, name string) []string {
		relkind := map[string]string{"table": "r", "index": "i"}[kind]
		rows, err := conn.Query(t.Context(), `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relname = $1 AND c.relkind = $2 AND n.nspname = ANY($3) ORDER BY 1`, name, relkind, []string{home, decoy})
		require.NoError(t, err)
		in, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		slices.Sort(in)
		return in
	}
	return tg
}

// pgSchema creates a uniquely named schema whose name needs quoting, and
// drops it (CASCADE) when the test ends.
func pgSchema(t *testing.T, conn *pgx.Conn, label string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := `models "` + label + `"; ` + hex.EncodeToString(b[:])
	_, err := conn.Exec(t.Context(), "CREATE SCHEMA "+ident.Quote(name))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := conn.Exec(context.Background(), "DROP SCHEMA "+ident.Quote(name)+" CASCADE")
		require.NoError(t, err)
	})
	return name
}

// insertRow inserts the fields of row (a pointer to a struct m was made
// from) except auto-increment columns into m's table in tg.schema and
// returns the generated "id".
func insertRow(t *testing.T, tg *target, m *Model, row any) int64 {
	t.Helper()
	return insertRowIn(t, tg, tg.schema, m, row)
}

// insertRowIn is insertRow into the table in schema.
func insertRowIn(t *testing.T, tg *target, schema string, m *Model, row any) int64 {
	t.Helper()
	v := reflect.ValueOf(row).Elem()
	var cols, phs []string
	var args []any
	for _, c := range m.Columns() {
		if c.GetAutoIncrement() {
			continue
		}
		idx, ok := FieldIndex(v.Type(), c.GetField())
		require.True(t, ok, c.GetField())
		cols = append(cols, ident.Quote(c.GetName()))
		args = append(args, v.FieldByIndex(idx).Interface())
		phs = append(phs, tg.ph(len(args)))
	}
	q := "INSERT INTO " + m.qt(schema) + " (" + strings.Join(cols, ", ") + ") VALUES (" +
		strings.Join(phs, ", ") + `) RETURNING "id"`
	var id int64
	require.NoError(t, tg.queryRow(t, q, args...).Scan(&id), q)
	return id
}

// selectRow reads the row with this id into a new value of row's type.
func selectRow(t *testing.T, tg *target, m *Model, typ reflect.Type, id int64) reflect.Value {
	t.Helper()
	out := reflect.New(typ).Elem()
	var cols []string
	var dests []any
	for _, c := range m.Columns() {
		idx, ok := FieldIndex(typ, c.GetField())
		require.True(t, ok, c.GetField())
		cols = append(cols, ident.Quote(c.GetName()))
		dests = append(dests, out.FieldByIndex(idx).Addr().Interface())
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + m.qt(tg.schema) + ` WHERE "id" = ` + tg.ph(1)
	require.NoError(t, tg.queryRow(t, q, id).Scan(dests...), q)
	return out
}

// sameValue is reflect.DeepEqual except that times compare with Equal (a
// driver may hand them back in another location).
func sameValue(a, b reflect.Value) bool {
	if a.Type() == timeType {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func fullRow() everyType {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC) // microseconds: PostgreSQL's precision
	day := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	s, i32, f32, mood := "pointer", int32(-7), float32(2.5), Mood("pointed")
	bs := []byte{9, 8, 7}
	raw := json.RawMessage(`{"k": [1, 2]}`) // jsonb's canonical spelling, so it reads back the same
	return everyType{
		I8: math.MinInt8, I16: math.MinInt16, U8: math.MaxUint8, I32: math.MinInt32, U16: math.MaxUint16,
		I: -9_000_000_000_000, I64: math.MaxInt64, U32: math.MaxUint32,
		S: `héllo 'quoted' "double"`, B: true, F64: math.Pi, F32: 1.5, T: ts,
		Bytes: []byte{0, 1, 2, 254, 255}, Raw: json.RawMessage(`{"a": 1, "bb": [true, null]}`), Mood: "happy",
		Num: "12.5", UUID: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", Day: day,
		NS:    sql.NullString{String: "ns", Valid: true},
		NI64:  sql.NullInt64{Int64: math.MinInt64, Valid: true},
		NI32:  sql.NullInt32{Int32: math.MaxInt32, Valid: true},
		NI16:  sql.NullInt16{Int16: math.MaxInt16, Valid: true},
		NByte: sql.NullByte{Byte: 200, Valid: true},
		NB:    sql.NullBool{Bool: false, Valid: true},
		NF:    sql.NullFloat64{Float64: -0.25, Valid: true},
		NT:    sql.NullTime{Time: ts, Valid: true},
		GS:    sql.Null[string]{V: "generic", Valid: true},
		GT:    sql.Null[time.Time]{V: ts, Valid: true},
		GI8:   sql.Null[int8]{V: -3, Valid: true},
		PS:    &s, PI: &i32, PF: &f32, PT: &ts, PBytes: &bs, PMood: &mood, PRaw: &raw,
	}
}

func TestRoundTripEveryType(t *testing.T) {
	def, err := FromStruct(everyType{}, Name("EveryType"))
	require.NoError(t, err)
	m := mustNew(t, def)
	forEachTarget(t, func(t *testing.T, tg *target) {
		tg.mustExec(t, m.CreateTableSQL(tg.dialect, tg.schema, false)...)
		require.Equal(t, []string{tg.home}, tg.objectIn(t, "table", "everytypes"))

		full := fullRow()
		nulls := fullRow()
		v := reflect.ValueOf(&nulls).Elem()
		for _, c := range m.Columns() {
			if c.GetNullable() {
				f := v.FieldByIndex(mustIndex(t, v.Type(), c.GetField()))
				f.Set(reflect.Zero(f.Type()))
			}
		}
		var ids []int64
		for _, want := range []everyType{full, nulls} {
			want.ID = insertRow(t, tg, m, &want)
			ids = append(ids, want.ID)
			got := selectRow(t, tg, m, reflect.TypeFor[everyType](), want.ID)
			wv := reflect.ValueOf(want)
			for i := range wv.NumField() {
				name := wv.Type().Field(i).Name
				require.True(t, sameValue(wv.Field(i), got.Field(i)),
					"%s: wrote %#v, read %#v", name, wv.Field(i).Interface(), got.Field(i).Interface())
			}
		}
		require.Positive(t, ids[0], "the auto-increment key was generated")
		require.Greater(t, ids[1], ids[0])

		// The second row stored NULL in each of the 18 nullable columns.
		var nullable int
		for _, c := range m.Columns() {
			if c.GetNullable() {
				nullable++
			}
		}
		require.Equal(t, 18, nullable)
	})
}

type Org struct {
	ID   int64
	Name string `db:",unique"`
}

type Member struct {
	ID    int64
	OrgID int64 `db:"org_id,references=orgs.id,ondelete=cascade,index"`
}

type Note struct {
	ID    int64
	OrgID *int64 `db:"org_id,references=orgs.id,ondelete=set null"`
}

func TestForeignKeysOnDelete(t *testing.T) {
	var ms []*Model
	for _, v := range []any{Member{}, Note{}, Org{}} {
		def, err := FromStruct(v)
		require.NoError(t, err)
		ms = append(ms, mustNew(t, def))
	}
	ordered, err := SortByDependencies(ms)
	require.NoError(t, err)
	require.Equal(t, []string{"orgs", "members", "notes"}, tablesOf(ordered))
	orgs, members, notes := ordered[0], ordered[1], ordered[2]

	forEachTarget(t, func(t *testing.T, tg *target) {
		// A twin of the referenced table in the decoy schema, holding the
		// same id: a foreign key bound to it would not cascade.
		tg.mustExec(t, orgs.CreateTableSQL(tg.dialect, tg.decoy, false)...)
		require.EqualValues(t, 1, insertRowIn(t, tg, tg.decoy, orgs, &Org{Name: "decoy"}))
		for _, m := range ordered {
			tg.mustExec(t, m.CreateTableSQL(tg.dialect, tg.schema, false)...)
		}
		require.Equal(t, []string{tg.home}, tg.objectIn(t, "index", "members_org_id_idx"))

		org := insertRow(t, tg, orgs, &Org{Name: "acme"})
		require.EqualValues(t, 1, org)
		insertRow(t, tg, members, &Member{OrgID: org})
		insertRow(t, tg, members, &Member{OrgID: org})
		insertRow(t, tg, notes, &Note{OrgID: &org})
		require.Error(t, tg.exec(t, "INSERT INTO "+members.qt(tg.schema)+` ("org_id") VALUES (`+tg.ph(1)+")", 99),
			"the foreign key is enforced")

		count := func(m *Model, where string) int {
			var n int
			require.NoError(t, tg.queryRow(t, "SELECT count(*) FROM "+m.qt(tg.schema)+" WHERE "+where).Scan(&n))
			return n
		}
		require.Equal(t, 2, count(members, "true"))
		require.NoError(t, tg.exec(t, "DELETE FROM "+orgs.qt(tg.schema)+` WHERE "id" = `+tg.ph(1), org))
		require.Equal(t, 0, count(members, "true"), "ON DELETE CASCADE")
		require.Equal(t, 1, count(notes, `"org_id" IS NULL`), "ON DELETE SET NULL")

		// Drop in reverse order; IF EXISTS tolerates a second drop.
		for _, m := range slices.Backward(ordered) {
			tg.mustExec(t, m.DropTableSQL(tg.dialect, tg.schema, false))
			require.NotContains(t, tg.objectIn(t, "table", m.Table()), tg.home, m.Table())
		}
		for _, m := range ordered {
			tg.mustExec(t, m.DropTableSQL(tg.dialect, tg.schema, true))
			require.Error(t, tg.exec(t, m.DropTableSQL(tg.dialect, tg.schema, false)))
		}
	})
}

func TestCreateIfNotExistsAndNoAuto(t *testing.T) {
	type Manual struct {
		ID   int64  `db:"id,pk,noauto"`
		Name string `db:"name,index"`
	}
	def, err := FromStruct(Manual{})
	require.NoError(t, err)
	m := mustNew(t, def)
	forEachTarget(t, func(t *testing.T, tg *target) {
		tg.mustExec(t, m.CreateTableSQL(tg.dialect, tg.schema, true)...)
		tg.mustExec(t, m.CreateTableSQL(tg.dialect, tg.schema, true)...)
		require.Error(t, tg.exec(t, m.CreateTableSQL(tg.dialect, tg.schema, false)[0]))
		require.Error(t, tg.exec(t, m.CreateTableSQL(tg.dialect, tg.schema, false)[1]))
		require.Equal(t, []string{tg.home}, tg.objectIn(t, "index", "manuals_name_idx"))

		// noauto: the database does not make up a key.
		require.Error(t, tg.exec(t, "INSERT INTO "+m.qt(tg.schema)+` ("name") VALUES (`+tg.ph(1)+")", "x"))
		require.NoError(t, tg.exec(t, "INSERT INTO "+m.qt(tg.schema)+` ("id", "name") VALUES (`+tg.ph(1)+", "+tg.ph(2)+")", 42, "x"))
		var name string
		require.NoError(t, tg.queryRow(t, "SELECT name FROM "+m.qt(tg.schema)+` WHERE "id" = 42`).Scan(&name))
		require.Equal(t, "x", name)
	})
}

func TestAwkwardNamesExecute(t *testing.T) {
	type Odd struct {
		ID     int64  `db:"i\"d; DROP TABLE x; --,pk"`
		Val    string `db:"v'a\"l,unique,index"`
		Parent *int64 `db:"par\"ent,references=we\"ird; models.i\"d; DROP TABLE x; --,ondelete=cascade"`
	}
	def, err := FromStruct(Odd{}, Name(`we"ird; model`))
	require.NoError(t, err)
	odd := mustNew(t, def)
	require.True(t, def.GetColumns()[0].GetAutoIncrement())

	long := strings.Repeat("l", 60)
	a, b := strings.Repeat("a", 50), strings.Repeat("b", 50)
	lm := mustNew(t, &messages.ModelDef{Name: "Long", Table: long, Columns: []*messages.ColumnDef{
		{Name: "id", Type: tText, PrimaryKey: true},
		{Name: a, Type: tText, Nullable: true, Index: true},
		{Name: b, Type: tText, Nullable: true, Index: true},
	}})

	forEachTarget(t, func(t *testing.T, tg *target) {
		tg.mustExec(t, odd.CreateTableSQL(tg.dialect, tg.schema, true)...)
		require.Equal(t, []string{tg.home}, tg.objectIn(t, "table", `we"ird; models`))
		require.Equal(t, []string{tg.home}, tg.objectIn(t, "index", `we"ird; models_v'a"l_idx`))
		q := odd.qt(tg.schema)
		var parent int64
		require.NoError(t, tg.queryRow(t, "INSERT INTO "+q+` ("v'a""l") VALUES (`+tg.ph(1)+`) RETURNING "i""d; DROP TABLE x; --"`, "root").Scan(&parent))
		require.NoError(t, tg.exec(t, "INSERT INTO "+q+` ("v'a""l", "par""ent") VALUES (`+tg.ph(1)+", "+tg.ph(2)+")", "child", parent))
		require.Error(t, tg.exec(t, "INSERT INTO "+q+` ("v'a""l") VALUES (`+tg.ph(1)+")", "root"), "UNIQUE holds")
		require.NoError(t, tg.exec(t, "DELETE FROM "+q+` WHERE "i""d; DROP TABLE x; --" = `+tg.ph(1), parent))
		var n int
		require.NoError(t, tg.queryRow(t, "SELECT count(*) FROM "+q).Scan(&n))
		require.Zero(t, n, "the self-reference cascaded")
		tg.mustExec(t, odd.DropTableSQL(tg.dialect, tg.schema, false))
		require.Empty(t, tg.objectIn(t, "table", `we"ird; models`))

		// Index names over 63 bytes are shortened by us, never by the server.
		tg.mustExec(t, lm.CreateTableSQL(tg.dialect, tg.schema, false)...)
		for _, c := range []string{a, b} {
			name := indexName(long, c)
			require.Len(t, name, 63)
			require.Equal(t, []string{tg.home}, tg.objectIn(t, "index", name))
		}
	})
}

// Defaults render in parentheses: expressions work on SQLite too, and
// nothing after the expression can join the column definition.
func TestDefaultExpressionsExecute(t *testing.T) {
	col := func(name, expr string) *messages.ColumnDef {
		return &messages.ColumnDef{Name: name, Type: tText, Nullable: true, DefaultSql: expr}
	}
	good := mustNew(t, &messages.ModelDef{Name: "Defaults", Table: "defaults", Columns: []*messages.ColumnDef{
		{Name: "id", Type: tText, PrimaryKey: true},
		col("concat", "'x' || 'y'"),
		col("arith", "(1 + 2) * 3"),
		col("quoted", "'it''s [ok]'"),
		col("ts", "CURRENT_TIMESTAMP"),
	}})
	forEachTarget(t, func(t *testing.T, tg *target) {
		tg.mustExec(t, good.CreateTableSQL(tg.dialect, tg.schema, false)...)
		require.NoError(t, tg.exec(t, "INSERT INTO "+good.qt(tg.schema)+` ("id") VALUES ('a')`))
		var concat, arith, quoted string
		require.NoError(t, tg.queryRow(t, `SELECT "concat", CAST("arith" AS TEXT), "quoted" FROM `+good.qt(tg.schema)).Scan(&concat, &arith, &quoted))
		require.Equal(t, []string{"xy", "9", "it's [ok]"}, []string{concat, arith, quoted})

		for i, expr := range []string{"0 CHECK (false)", `0 REFERENCES "defaults" ("id")`, "1 PRIMARY KEY"} {
			evil := mustNew(t, &messages.ModelDef{Name: "Evil", Table: fmt.Sprintf("evil%d", i), Columns: []*messages.ColumnDef{
				{Name: "id", Type: tText, PrimaryKey: true}, col("a", expr),
			}})
			require.Error(t, tg.exec(t, evil.CreateTableSQL(tg.dialect, tg.schema, false)[0]),
				"DEFAULT (%s) is a syntax error, not a constraint", expr)
		}
	})
}
