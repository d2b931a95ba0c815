package actors

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Instrumentation lets tracing and metrics see a database's pools without
// the core importing them (the otel sub-package fills it in). Every field
// is optional. database is the database's name ("" for the main one).
type Instrumentation struct {
	// QueryTracer, when set, traces every statement of a PostgreSQL pool
	// (together with the SQL echo, if that is on).
	QueryTracer func(database string) pgx.QueryTracer
	// Statement, when set, is told every statement of an SQLite pool once
	// it has run: its SQL, argument count (never the values), duration and
	// error.
	Statement func(ctx context.Context, database, query string, args int, took time.Duration, err error)
	// Opened, when set, is called once a pool has opened (pool is nil for
	// SQLite); the func it returns, if any, is called before that pool
	// closes (to stop collecting its metrics).
	Opened func(database string, pool *pgxpool.Pool, db *sql.DB) (closing func())
}

// tracer is the QueryTracer of a new PostgreSQL pool: health, echo and
// instrumentation together.
func (s *State) tracer() pgx.QueryTracer {
	ts := []pgx.QueryTracer{healthTracer{s}}
	if s.cfg.Echo {
		ts = append(ts, s.echo())
	}
	if s.instrument.QueryTracer != nil {
		if t := s.instrument.QueryTracer(s.name); t != nil {
			ts = append(ts, t)
		}
	}
	if len(ts) == 1 {
		return ts[0]
	}
	return multitracer.New(ts...)
}

// healthTracer tells the health loop of statements and dials that failed
// (State.failed); a success costs it nothing but the call.
type healthTracer struct{ s *State }

// TraceQueryStart implements pgx.QueryTracer.
func (healthTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t healthTracer) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if d.Err != nil {
		t.s.failed(d.Err)
	}
}

// TraceBatchStart implements pgx.BatchTracer.
func (healthTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

// TraceBatchQuery implements pgx.BatchTracer.
func (healthTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd implements pgx.BatchTracer.
func (t healthTracer) TraceBatchEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	if d.Err != nil {
		t.s.failed(d.Err)
	}
}

// TraceConnectStart implements pgx.ConnectTracer.
func (healthTracer) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

// TraceConnectEnd implements pgx.ConnectTracer: a pool that cannot dial.
func (t healthTracer) TraceConnectEnd(_ context.Context, d pgx.TraceConnectEndData) {
	if d.Err != nil {
		t.s.failed(d.Err)
	}
}

// statement is what a new SQLite pool tells of each statement, or nil.
func (s *State) statement() func(ctx context.Context, query string, args int, took time.Duration, err error) {
	var e func(ctx context.Context, query string, args int, took time.Duration, err error)
	if s.cfg.Echo {
		e = s.echo().Statement
	}
	obs := s.instrument.Statement
	switch {
	case obs == nil:
		return e
	case e == nil:
		return func(ctx context.Context, query string, args int, took time.Duration, err error) {
			obs(ctx, s.name, query, args, took, err)
		}
	}
	return func(ctx context.Context, query string, args int, took time.Duration, err error) {
		e(ctx, query, args, took, err)
		obs(ctx, s.name, query, args, took, err)
	}
}
