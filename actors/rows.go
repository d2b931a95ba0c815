package actors

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// rowReader is a query's result as State.query reads it, each value as
// database/sql scans it into an any: database/sql's rows (SQLite, and the
// force-rollback sandbox) or pgx's own (PostgreSQL), which a worker reads
// without database/sql's connection and row bookkeeping.
type rowReader interface {
	// columns are the result's column names and database type names.
	columns() (names, types []string, err error)
	next() bool
	// scan puts the current row's values into dest, one per column.
	scan(dest []any) error
	err() error
	close() error
}

// sqlRows reads database/sql's rows.
type sqlRows struct {
	rows *sql.Rows
	dest []any // what ptrs point into
	ptrs []any
}

func (r *sqlRows) columns() (names, types []string, err error) {
	cts, err := r.rows.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	names, types = make([]string, len(cts)), make([]string, len(cts))
	for i, ct := range cts {
		names[i], types[i] = ct.Name(), ct.DatabaseTypeName()
	}
	return names, types, nil
}

func (r *sqlRows) next() bool { return r.rows.Next() }

func (r *sqlRows) scan(dest []any) error {
	if len(dest) == 0 {
		return r.rows.Scan()
	}
	if len(r.dest) != len(dest) || &r.dest[0] != &dest[0] {
		r.dest, r.ptrs = dest, make([]any, len(dest))
		for i := range dest {
			r.ptrs[i] = &dest[i]
		}
	}
	return r.rows.Scan(r.ptrs...)
}

func (r *sqlRows) err() error   { return r.rows.Err() }
func (r *sqlRows) close() error { return r.rows.Close() }

// pgResultFormats asks for the binary format where pgx's database/sql
// driver (stdlib) does, so that a value reads the same either way.
var pgResultFormats = pgx.QueryResultFormatsByOID{
	pgtype.BoolOID: 1, pgtype.ByteaOID: 1, pgtype.CIDOID: 1, pgtype.DateOID: 1,
	pgtype.Float4OID: 1, pgtype.Float8OID: 1, pgtype.Int2OID: 1, pgtype.Int4OID: 1,
	pgtype.Int8OID: 1, pgtype.OIDOID: 1, pgtype.TimestampOID: 1, pgtype.TimestamptzOID: 1,
	pgtype.XIDOID: 1,
}

// pgRows reads pgx's rows into what database/sql with pgx's stdlib driver
// would scan into an any: the same Go type for each PostgreSQL type (int64
// for the integers, float64, bool, time.Time, []byte for bytea and JSON, a
// string for the rest), and the same type names. TestPgRowsMatchStdlib
// holds the two to each other, type by type.
type pgRows struct {
	conn  *pgx.Conn
	rows  pgx.Rows
	funcs []func([]byte) (any, error)
}

// queryPg runs sql with args on conn; opts go before args (an exec mode).
func queryPg(ctx context.Context, conn *pgx.Conn, sql string, args []any, opts ...any) (*pgRows, error) {
	all := make([]any, 0, 1+len(opts)+len(args))
	all = append(append(append(all, pgResultFormats), opts...), args...)
	rows, err := conn.Query(ctx, sql, all...)
	if err != nil {
		return nil, err
	}
	return &pgRows{conn: conn, rows: rows}, nil
}

func (r *pgRows) columns() (names, types []string, err error) {
	fds := r.rows.FieldDescriptions()
	names, types = make([]string, len(fds)), make([]string, len(fds))
	r.funcs = make([]func([]byte) (any, error), len(fds))
	m := r.conn.TypeMap()
	for i, fd := range fds {
		names[i] = fd.Name
		if t, ok := m.TypeForOID(fd.DataTypeOID); ok {
			types[i] = strings.ToUpper(t.Name)
		} else {
			types[i] = strconv.FormatInt(int64(fd.DataTypeOID), 10)
		}
		r.funcs[i] = pgValueFunc(m, fd.DataTypeOID, fd.Format)
	}
	return names, types, nil
}

func (r *pgRows) next() bool { return r.rows.Next() }

func (r *pgRows) scan(dest []any) error {
	if r.funcs == nil {
		if _, _, err := r.columns(); err != nil {
			return err
		}
	}
	raw := r.rows.RawValues()
	if len(raw) != len(dest) || len(raw) != len(r.funcs) {
		return fmt.Errorf("dbactor: %d values in a row of %d columns", len(raw), len(dest))
	}
	for i, src := range raw {
		if src == nil {
			dest[i] = nil
			continue
		}
		v, err := r.funcs[i](src)
		if err != nil {
			return fmt.Errorf("convert field %d failed: %w", i, err)
		}
		dest[i] = v
	}
	return nil
}

func (r *pgRows) err() error { return r.rows.Err() }

func (r *pgRows) close() error {
	r.rows.Close()
	return r.rows.Err()
}

// pgValueFunc decodes one column's wire values as stdlib's rows do.
func pgValueFunc(m *pgtype.Map, oid uint32, format int16) func([]byte) (any, error) {
	switch oid {
	case pgtype.BoolOID:
		return scanAs[bool](m, oid, format, func(d bool) (any, error) { return d, nil })
	case pgtype.ByteaOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		// A copy: database/sql hands out a copy of a driver's bytes.
		return scanAs[[]byte](m, oid, format, func(d []byte) (any, error) { return bytes.Clone(d), nil })
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		return scanAs[pgtype.Uint32](m, oid, format, func(d pgtype.Uint32) (any, error) { return d.Value() })
	case pgtype.DateOID:
		return scanAs[pgtype.Date](m, oid, format, func(d pgtype.Date) (any, error) { return d.Value() })
	case pgtype.Float4OID:
		return scanAs[float32](m, oid, format, func(d float32) (any, error) { return float64(d), nil })
	case pgtype.Float8OID:
		return scanAs[float64](m, oid, format, func(d float64) (any, error) { return d, nil })
	case pgtype.Int2OID:
		return scanAs[int16](m, oid, format, func(d int16) (any, error) { return int64(d), nil })
	case pgtype.Int4OID:
		return scanAs[int32](m, oid, format, func(d int32) (any, error) { return int64(d), nil })
	case pgtype.Int8OID:
		return scanAs[int64](m, oid, format, func(d int64) (any, error) { return d, nil })
	case pgtype.TimestampOID:
		return scanAs[pgtype.Timestamp](m, oid, format, func(d pgtype.Timestamp) (any, error) { return d.Value() })
	case pgtype.TimestamptzOID:
		return scanAs[pgtype.Timestamptz](m, oid, format, func(d pgtype.Timestamptz) (any, error) { return d.Value() })
	}
	return scanAs[string](m, oid, format, func(d string) (any, error) { return d, nil })
}

// scanAs decodes into a T with pgx's plan for the column, then makes the
// value database/sql would see of it.
func scanAs[T any](m *pgtype.Map, oid uint32, format int16, value func(T) (any, error)) func([]byte) (any, error) {
	var d T
	plan := m.PlanScan(oid, format, &d)
	return func(src []byte) (any, error) {
		if err := plan.Scan(src, &d); err != nil {
			return nil, err
		}
		return value(d)
	}
}
