// Package echo is Edgy's echo=True for Go: every statement a database's
// pool runs is logged, with its arguments redacted and every configured
// password scrubbed from the text. PostgreSQL statements are seen through a
// pgx.QueryTracer; SQLite statements through the internal/sqlite
// connection, which calls Echo.Statement.
package echo

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
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
		attrs = append(attrs, slog.String("error", e.Scrub(err.Error())))
	}
	e.Logger.LogAttrs(ctx, slog.LevelInfo, "dbactor: sql", attrs...)
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
		switch a.(type) {
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
