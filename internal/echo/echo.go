package echo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Echo logs statements to Logger at Info.
type Echo struct {
	Logger *slog.Logger
	// Scrub removes configured passwords from SQL and error texts.
	Scrub func(string) string
}

// Statement logs one statement: its SQL, how many arguments it had (never
// their values: they are user data), how long it took and how it failed.
func (e *Echo) Statement(ctx context.Context, sql string, args int, took time.Duration, err error) {
	attrs := []slog.Attr{
		slog.String("sql", e.Scrub(sql)),
		slog.Int("args", args),
		slog.Duration("duration", took),
	}
	if err != nil {
		attrs = append(attrs, e.errorAttrs(err)...)
	}
	e.Logger.LogAttrs(ctx, slog.LevelInfo, "dbactor: sql", attrs...)
}

// errorAttrs describes a failed statement without the argument values an
// error text can quote: PostgreSQL's data exceptions (class 22: "invalid
// input syntax for type integer: \"…\"") keep only their code, and errors
// that are neither the server's, SQLite's nor the network's (pgx encode
// errors print the value) only their type.
func (e *Echo) errorAttrs(err error) []slog.Attr {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		attrs := []slog.Attr{slog.String("sqlstate", pg.Code)}
		if !strings.HasPrefix(pg.Code, "22") {
			attrs = append(attrs, slog.String("error", e.Scrub(pg.Severity+": "+pg.Message)))
		}
		for _, kv := range [][2]string{{"constraint", pg.ConstraintName}, {"table", pg.TableName}, {"column", pg.ColumnName}} {
			if kv[1] != "" {
				attrs = append(attrs, slog.String(kv[0], kv[1]))
			}
		}
		return attrs
	}
	var lite interface{ Code() int }
	var netErr net.Error
	switch {
	case errors.As(err, &lite), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.EOF):
		return []slog.Attr{slog.String("error", e.Scrub(err.Error()))}
	}
	return []slog.Attr{slog.String("error_type", fmt.Sprintf("%T", err))}
}

type startKey struct{}

type start struct {
	sql  string
	args int
	at   time.Time
}

// TraceQueryStart implements pgx.QueryTracer.
func (e *Echo) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, startKey{}, start{sql: data.SQL, args: countArgs(data.Args), at: time.Now()})
}

// countArgs leaves out the query options pgx takes among the arguments
// (database/sql's stdlib adds one to every query).
func countArgs(args []any) int {
	n := 0
	for _, a := range args {
		switch a := a.(type) {
		case pgx.NamedArgs:
			n += len(a)
		case pgx.StrictNamedArgs:
			n += len(a)
		case pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID, pgx.QueryRewriter:
		default:
			n++
		}
	}
	return n
}

// TraceQueryEnd implements pgx.QueryTracer.
func (e *Echo) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	s, _ := ctx.Value(startKey{}).(start)
	e.Statement(ctx, s.sql, s.args, time.Since(s.at), data.Err)
}

type batchKey struct{}

// TraceBatchStart implements pgx.BatchTracer.
func (e *Echo) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, batchKey{}, time.Now())
}

// TraceBatchQuery implements pgx.BatchTracer: each query of a batch.
func (e *Echo) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	at, _ := ctx.Value(batchKey{}).(time.Time)
	e.Statement(ctx, data.SQL, countArgs(data.Args), time.Since(at), data.Err)
}

// TraceBatchEnd implements pgx.BatchTracer.
func (e *Echo) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

type copyKey struct{}

type copyStart struct {
	table string
	cols  int
	at    time.Time
}

// TraceCopyFromStart implements pgx.CopyFromTracer.
func (e *Echo) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	return context.WithValue(ctx, copyKey{}, copyStart{table: data.TableName.Sanitize(), cols: len(data.ColumnNames), at: time.Now()})
}

// TraceCopyFromEnd implements pgx.CopyFromTracer: logged as a COPY of so
// many rows, values never.
func (e *Echo) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	s, _ := ctx.Value(copyKey{}).(copyStart)
	e.Statement(ctx, fmt.Sprintf("COPY %s (%d columns) FROM STDIN: %d rows", s.table, s.cols, data.CommandTag.RowsAffected()), 0, time.Since(s.at), data.Err)
}
