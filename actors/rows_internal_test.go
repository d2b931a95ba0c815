package actors

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/pgdb"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/internal/testdb"
)

// TestPgRowsMatchStdlib: a worker reads PostgreSQL results with pgx's own
// rows (pgRows), no longer through database/sql; every value and type
// name must come out exactly as database/sql with pgx's stdlib driver
// gives them — the Go value scanned into an any, and the Value a reply
// carries — for every kind of column, NULLs and infinities included.
func TestPgRowsMatchStdlib(t *testing.T) {
	dsnURL := testdb.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsnURL)
	require.NoError(t, err)
	defer pool.Close()
	db := pgdb.OpenDB(pool)
	defer db.Close()

	const query = `SELECT
		true AS b, NULL::bool AS nb,
		'\x00ff10'::bytea AS ba, ''::bytea AS eba,
		1::int2 AS i2, '-2147483648'::int4 AS i4, 9223372036854775807::int8 AS i8,
		1.5::float4 AS f4, 'NaN'::float8 AS f8, '-Infinity'::float8 AS f8i,
		12345678901234567890.0123456789::numeric AS num, 'NaN'::numeric AS nnum,
		'héllo'::text AS t, 'x'::varchar(3) AS vc, 'ab'::char(4) AS ch, 'nm'::name AS nm,
		'{"a": [1, 2]}'::json AS js, '{"b": null}'::jsonb AS jb,
		'2024-02-29'::date AS d, 'infinity'::date AS di, '-infinity'::date AS dni,
		'2024-02-29 13:14:15.123456'::timestamp AS ts, 'infinity'::timestamp AS tsi,
		'2024-02-29 13:14:15.123456+02'::timestamptz AS tz, '-infinity'::timestamptz AS tzi,
		'13:14:15.5'::time AS tm, '13:14:15+02'::timetz AS tmz, '1 day 02:03:04'::interval AS iv,
		'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u,
		'192.168.0.1/24'::inet AS ip, '10.0.0.0/8'::cidr AS cidr, '08:00:2b:01:02:03'::macaddr AS mac,
		ARRAY[1, NULL, 3]::int4[] AS ai, ARRAY['a', 'b']::text[] AS at,
		'<x>1</x>'::xml AS x, 42::oid AS o, '7'::xid AS xi, '3'::cid AS ci,
		'12.34'::money AS mo, B'1011'::bit(4) AS bt, '(1,2)'::point AS pt,
		'[1,5)'::int4range AS r, 'a fat cat'::tsvector AS tv, 'regclass'::regtype AS rt,
		NULL::text AS nt, NULL::int8 AS ni, NULL::timestamptz AS nz, NULL::bytea AS nby`

	// database/sql, as the workers read results before.
	sqlR, err := db.QueryContext(ctx, query)
	require.NoError(t, err)
	want := readAll(t, &sqlRows{rows: sqlR})

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	pgR, err := queryPg(ctx, conn.Conn(), query, nil)
	require.NoError(t, err)
	got := readAll(t, pgR)

	require.Equal(t, want.names, got.names)
	require.Equal(t, want.types, got.types)
	require.Len(t, got.rows, 1)
	for i, name := range want.names {
		if w, ok := want.rows[0][i].(float64); ok && math.IsNaN(w) {
			g, ok := got.rows[0][i].(float64)
			require.True(t, ok && math.IsNaN(g), "column %s: %#v, want NaN", name, got.rows[0][i])
		} else {
			require.Equal(t, want.rows[0][i], got.rows[0][i], "column %s (%s): Go value", name, want.types[i])
		}
		wv, werr := sqlvalue.FromScan(want.rows[0][i], want.types[i])
		gv, gerr := sqlvalue.FromScan(got.rows[0][i], got.types[i])
		require.Equal(t, werr, gerr, "column %s: FromScan error", name)
		require.Equal(t, wv.String(), gv.String(), "column %s (%s): reply value", name, want.types[i])
	}

	// With arguments, and rows of several values: the same.
	const withArgs = `SELECT g, g::text || $1, $2::bytea FROM generate_series(1, 3) g`
	sqlR, err = db.QueryContext(ctx, withArgs, "-x", []byte{1, 2})
	require.NoError(t, err)
	want = readAll(t, &sqlRows{rows: sqlR})
	pgR, err = queryPg(ctx, conn.Conn(), withArgs, []any{"-x", []byte{1, 2}})
	require.NoError(t, err)
	got = readAll(t, pgR)
	require.Equal(t, want, got)
	require.Len(t, got.rows, 3)
}

// TestPgRowsBytesCopied: a bytea value read by pgRows is the caller's
// own, not a view of pgx's read buffer, which the next row overwrites.
func TestPgRowsBytesCopied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, testdb.PostgresDSN(t))
	require.NoError(t, err)
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	r, err := queryPg(ctx, conn.Conn(), `SELECT decode(repeat(lpad(to_hex(g), 2, '0'), 8), 'hex') FROM generate_series(10, 13) g`, nil)
	require.NoError(t, err)
	got := readAll(t, r)
	require.Len(t, got.rows, 4)
	for i, row := range got.rows {
		b := byte(10 + i)
		require.Equal(t, []byte{b, b, b, b, b, b, b, b}, row[0], "row %d", i)
	}
}

type readResult struct {
	names, types []string
	rows         [][]any
}

func readAll(t *testing.T, r rowReader) readResult {
	t.Helper()
	defer func() { require.NoError(t, r.close()) }()
	var out readResult
	var err error
	out.names, out.types, err = r.columns()
	require.NoError(t, err)
	for r.next() {
		dest := make([]any, len(out.names))
		require.NoError(t, r.scan(dest))
		out.rows = append(out.rows, dest)
	}
	require.NoError(t, r.err())
	return out
}
