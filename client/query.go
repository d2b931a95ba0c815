package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/messages"
)

// Result is what a Query returned: its columns and its rows, one Go value
// per column — nil (NULL), bool, int64, float64, string, []byte,
// time.Time (UTC), Numeric or json.RawMessage.
type Result struct {
	Columns []Column
	Rows    [][]any
}

// Column is one column of a Result: its name and the database's name for
// its type ("INT8", "TEXT", "NUMERIC" on PostgreSQL; the declared type on
// SQLite).
type Column struct {
	Name string
	Type string
}

// Numeric is an exact decimal (NUMERIC, DECIMAL) as its text, "12.50": as
// an argument it is sent as a numeric value, and a Result gives NUMERIC
// columns as Numeric.
type Numeric = sqlvalue.Numeric

// WithLimits returns a handle whose queries return at most rows rows and
// about bytes bytes of values (0: the registry's defaults, 1000 rows and
// 1 MiB; bytes is capped at 3 MiB). A larger result fails with
// ErrLimitExceeded and returns nothing.
func (d *RemoteDatabase) WithLimits(rows uint32, bytes uint64) *RemoteDatabase {
	c := *d
	c.maxRows, c.maxBytes = rows, bytes
	return &c
}

// Query runs sql, a statement that returns rows, on the registry's node
// with args ($1, $2… on PostgreSQL; ? on SQLite) and returns its rows. The
// database must be connected (by anyone); else ErrNotConnected. Arguments
// may be nil, bool, any integer, float32/64, string, []byte, time.Time,
// Numeric, json.RawMessage, pointers to these, or a driver.Valuer. A
// statement the server refuses fails with ErrQuery and the server's
// message; every worker busy and the queue full, with ErrOverloaded.
func (d *RemoteDatabase) Query(ctx context.Context, sql string, args ...any) (*Result, error) {
	vals, refused := d.args(args, "query")
	return call(ctx, d.cl, ops.Op[*Result]{
		Refused: refused,
		Build: func(ts *timestamppb.Timestamp) any {
			return &messages.Query{Target: ops.Target(d.name), Sql: sql, Args: vals, MaxRows: d.maxRows, MaxBytes: d.maxBytes, Deadline: ts}
		},
		Read: func(reply any, err error) (*Result, error) {
			if err != nil {
				return nil, fmt.Errorf("dbactor: query on %s: %w", messages.DisplayName(d.name), err)
			}
			r, ok := reply.(*messages.QueryResult)
			if !ok {
				return nil, request.Unexpected(reply)
			}
			if e := r.GetError(); e != nil {
				return nil, e
			}
			return resultFrom(r), nil
		},
	})
}

// Exec runs sql, a statement that returns no rows, on the registry's node
// and returns the number of rows it changed. See Query for arguments and
// errors.
func (d *RemoteDatabase) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	vals, refused := d.args(args, "exec")
	return call(ctx, d.cl, ops.Op[int64]{
		Refused: refused,
		Build: func(ts *timestamppb.Timestamp) any {
			return &messages.Exec{Target: ops.Target(d.name), Sql: sql, Args: vals, Deadline: ts}
		},
		Read: func(reply any, err error) (int64, error) {
			if err != nil {
				return 0, fmt.Errorf("dbactor: exec on %s: %w", messages.DisplayName(d.name), err)
			}
			r, ok := reply.(*messages.ExecResult)
			if !ok {
				return 0, request.Unexpected(reply)
			}
			if e := r.GetError(); e != nil {
				return 0, e
			}
			return r.GetRowsAffected(), nil
		},
	})
}

// args converts a statement's arguments; one that cannot travel refuses
// the statement.
func (d *RemoteDatabase) args(args []any, op string) ([]*messages.Value, error) {
	vals, err := sqlvalue.FromGoArgs(args...)
	if err != nil {
		return nil, fmt.Errorf("dbactor: %s on %s: %w", op, messages.DisplayName(d.name), err)
	}
	return vals, nil
}

func resultFrom(r *messages.QueryResult) *Result {
	res := &Result{Columns: make([]Column, len(r.GetColumns())), Rows: make([][]any, len(r.GetRows()))}
	for i, c := range r.GetColumns() {
		res.Columns[i] = Column{Name: c.GetName(), Type: c.GetType()}
	}
	for i, row := range r.GetRows() {
		vals := make([]any, len(row.GetValues()))
		for j, v := range row.GetValues() {
			vals[j] = sqlvalue.ToGo(v)
		}
		res.Rows[i] = vals
	}
	return res
}
