package sqlvalue_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/pgdb"
	"github.com/dbactor/dbactor/internal/sqlite"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// column is what one column of a real query gives: the driver's Go type
// and database type name, and the Value FromScan makes of it.
type column struct {
	goType, dbType string
	want           *messages.Value
}

// scanRow runs query on db and checks each column of its one row.
func scanRow(t *testing.T, db *sql.DB, query string, args []any, want map[string]column) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, query, args...)
	require.NoError(t, err)
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	require.NoError(t, err)
	require.True(t, rows.Next(), "one row")
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	require.NoError(t, rows.Scan(ptrs...))
	require.Len(t, want, len(cts))
	for i, ct := range cts {
		w, ok := want[ct.Name()]
		require.True(t, ok, "column %s", ct.Name())
		require.Equal(t, w.goType, fmt.Sprintf("%T", vals[i]), "Go type of %s", ct.Name())
		require.Equal(t, w.dbType, ct.DatabaseTypeName(), "database type of %s", ct.Name())
		got, err := sqlvalue.FromScan(vals[i], ct.DatabaseTypeName())
		require.NoError(t, err, ct.Name())
		require.True(t, proto.Equal(w.want, got), "%s: got %v, want %v", ct.Name(), got, w.want)
	}
	require.False(t, rows.Next())
	require.NoError(t, rows.Err())
}

// What pgx's stdlib driver (through internal/pgdb, as the database actor
// opens it) returns for each PostgreSQL type, and what FromScan makes of
// it: the facts the package documentation states.
func TestPostgresDriverValues(t *testing.T) {
	url := testdb.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	db := pgdb.OpenDB(pool)
	defer db.Close()

	day := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	scanRow(t, db, `SELECT true AS b, 1::int2 AS i2, 2::int4 AS i4, 3::int8 AS i8, 5::oid AS o,
		1.5::float4 AS f4, 2.5::float8 AS f8, 'x'::text AS t, 'y'::varchar(3) AS vc, 'z'::char(2) AS ch,
		'\x0102'::bytea AS by, NULL::int8 AS nul,
		'2024-01-02 03:04:05.123456+02'::timestamptz AS tz, '2024-01-02 03:04:05.123456'::timestamp AS ts,
		'2024-01-02'::date AS d, 'infinity'::timestamptz AS inf,
		12.50::numeric AS n, 'NaN'::numeric AS nn,
		'{"a":1}'::json AS j, '{"a":1}'::jsonb AS jb, '<a/>'::xml AS x,
		'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '03:04:05'::time AS tm, '1 day 02:00'::interval AS iv,
		ARRAY[1,2]::int4[] AS arr, '127.0.0.1'::inet AS ip`, nil, map[string]column{
		"b":   {"bool", "BOOL", sqlvalue.Bool(true)},
		"i2":  {"int64", "INT2", sqlvalue.Int(1)},
		"i4":  {"int64", "INT4", sqlvalue.Int(2)},
		"i8":  {"int64", "INT8", sqlvalue.Int(3)},
		"o":   {"int64", "OID", sqlvalue.Int(5)},
		"f4":  {"float64", "FLOAT4", sqlvalue.Float(1.5)},
		"f8":  {"float64", "FLOAT8", sqlvalue.Float(2.5)},
		"t":   {"string", "TEXT", sqlvalue.Text("x")},
		"vc":  {"string", "VARCHAR", sqlvalue.Text("y")},
		"ch":  {"string", "BPCHAR", sqlvalue.Text("z ")},
		"by":  {"[]uint8", "BYTEA", sqlvalue.Bytes([]byte{1, 2})},
		"nul": {"<nil>", "INT8", sqlvalue.Null()},
		"tz":  {"time.Time", "TIMESTAMPTZ", sqlvalue.Time(time.Date(2024, 1, 2, 1, 4, 5, 123456000, time.UTC))},
		"ts":  {"time.Time", "TIMESTAMP", sqlvalue.Time(time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC))},
		"d":   {"time.Time", "DATE", sqlvalue.Time(day)},
		"inf": {"string", "TIMESTAMPTZ", sqlvalue.Text("infinity")},
		"n":   {"string", "NUMERIC", sqlvalue.NumericValue("12.50")},
		"nn":  {"string", "NUMERIC", sqlvalue.NumericValue("NaN")},
		"j":   {"[]uint8", "JSON", sqlvalue.JSON(`{"a":1}`)},
		"jb":  {"[]uint8", "JSONB", sqlvalue.JSON(`{"a": 1}`)},
		"x":   {"[]uint8", "XML", sqlvalue.Text("<a/>")},
		"u":   {"string", "UUID", sqlvalue.Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		"tm":  {"string", "TIME", sqlvalue.Text("03:04:05")},
		"iv":  {"string", "INTERVAL", sqlvalue.Text("1 day 02:00:00")},
		"arr": {"string", "_INT4", sqlvalue.Text("{1,2}")},
		"ip":  {"string", "INET", sqlvalue.Text("127.0.0.1")},
	})

	// Arguments as Args makes them: numeric, json, uuid and date from text.
	args, err := sqlvalue.Args([]*messages.Value{
		sqlvalue.NumericValue("123456789012345678901234567890.123456789"), sqlvalue.JSON(`{"b": [2]}`),
		sqlvalue.Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), sqlvalue.Time(day), sqlvalue.Time(time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)),
		sqlvalue.Bytes(nil), sqlvalue.Null(), sqlvalue.Text("1 day"),
	})
	require.NoError(t, err)
	scanRow(t, db, `SELECT $1::numeric AS n, $2::jsonb AS j, $3::uuid AS u, $4::date AS d, $5::timestamptz AS tz,
		$6::bytea AS by, $7::text AS nul, $8::interval AS iv`, args, map[string]column{
		"n":   {"string", "NUMERIC", sqlvalue.NumericValue("123456789012345678901234567890.123456789")},
		"j":   {"[]uint8", "JSONB", sqlvalue.JSON(`{"b": [2]}`)},
		"u":   {"string", "UUID", sqlvalue.Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		"d":   {"time.Time", "DATE", sqlvalue.Time(day)},
		"tz":  {"time.Time", "TIMESTAMPTZ", sqlvalue.Time(time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC))},
		"by":  {"[]uint8", "BYTEA", sqlvalue.Bytes([]byte{})},
		"nul": {"<nil>", "TEXT", sqlvalue.Null()},
		"iv":  {"string", "INTERVAL", sqlvalue.Text("1 day")},
	})
}

// What modernc.org/sqlite (through internal/sqlite, as the database actor
// opens it) returns for each declared type, and what FromScan makes of it.
func TestSQLiteDriverValues(t *testing.T) {
	cfg, err := dsn.Parse("sqlite:///" + filepath.Join(t.TempDir(), "v.db"))
	require.NoError(t, err)
	sdb, err := sqlite.Open(cfg.SQLite)
	require.NoError(t, err)
	defer sdb.Close()
	db := sdb.SQL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, `CREATE TABLE v (i INTEGER, r REAL, n NUMERIC, dec DECIMAL(10,2), big NUMERIC,
		t TEXT, b BLOB, bo BOOLEAN, ts TIMESTAMP, dt DATETIME, d DATE, j JSON, u UUID, nul TEXT, e)`)
	require.NoError(t, err)
	when := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	day := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	args, err := sqlvalue.Args([]*messages.Value{
		sqlvalue.Int(1), sqlvalue.Float(1.5), sqlvalue.NumericValue("12.50"), sqlvalue.NumericValue("3.10"),
		sqlvalue.NumericValue("123456789012345678901234567890.123"), sqlvalue.Text("txt"), sqlvalue.Bytes([]byte{1, 2}),
		sqlvalue.Bool(true), sqlvalue.Time(when), sqlvalue.Time(when), sqlvalue.Time(day), sqlvalue.JSON(`{"a":1}`),
		sqlvalue.Text("a0eebc99"), sqlvalue.Null(), sqlvalue.Time(when),
	})
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO v VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, args...)
	require.NoError(t, err)
	scanRow(t, db, `SELECT * FROM v`, nil, map[string]column{
		"i":   {"int64", "INTEGER", sqlvalue.Int(1)},
		"r":   {"float64", "REAL", sqlvalue.Float(1.5)},
		"n":   {"float64", "NUMERIC", sqlvalue.NumericValue("12.5")},
		"dec": {"float64", "DECIMAL(10,2)", sqlvalue.NumericValue("3.1")},
		"big": {"float64", "NUMERIC", sqlvalue.NumericValue("1.2345678901234568e+29")},
		"t":   {"string", "TEXT", sqlvalue.Text("txt")},
		"b":   {"[]uint8", "BLOB", sqlvalue.Bytes([]byte{1, 2})},
		"bo":  {"int64", "BOOLEAN", sqlvalue.Bool(true)},
		"ts":  {"time.Time", "TIMESTAMP", sqlvalue.Time(when)},
		"dt":  {"time.Time", "DATETIME", sqlvalue.Time(when)},
		"d":   {"time.Time", "DATE", sqlvalue.Time(day)},
		"j":   {"string", "JSON", sqlvalue.JSON(`{"a":1}`)},
		"u":   {"string", "UUID", sqlvalue.Text("a0eebc99")},
		"nul": {"<nil>", "TEXT", sqlvalue.Null()},
		// No declared type: a time stays the text modernc wrote.
		"e": {"string", "", sqlvalue.Text("2024-01-02 03:04:05.123456789 +0000 UTC")},
	})
	scanRow(t, db, `SELECT 1 AS a, 1.5 AS b, 'x' AS c, x'0102' AS d, NULL AS e`, nil, map[string]column{
		"a": {"int64", "", sqlvalue.Int(1)},
		"b": {"float64", "", sqlvalue.Float(1.5)},
		"c": {"string", "", sqlvalue.Text("x")},
		"d": {"[]uint8", "", sqlvalue.Bytes([]byte{1, 2})},
		"e": {"<nil>", "", sqlvalue.Null()},
	})
}
