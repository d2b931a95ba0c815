package dbactorotel_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dbactor/dbactor/internal/testdb"
	dbactorotel "github.com/dbactor/dbactor/otel"
	"github.com/dbactor/dbactor/registry"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// secret is an argument value: it must never reach a span.
const secret = "s3cr3t-argument-value"

// telemetry is an SDK pipeline that keeps everything in memory.
type telemetry struct {
	spans    *tracetest.InMemoryExporter
	tp       *sdktrace.TracerProvider
	reader   *sdkmetric.ManualReader
	mp       *sdkmetric.MeterProvider
	shutdown func(t *testing.T)
}

func newTelemetry(t *testing.T) *telemetry {
	tel := &telemetry{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	var once sync.Once
	tel.shutdown = func(t *testing.T) {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, tel.tp.Shutdown(ctx))
			require.NoError(t, tel.mp.Shutdown(ctx))
		})
	}
	t.Cleanup(func() { tel.shutdown(t) })
	return tel
}

// registry returns a registry instrumented with tel, closed at cleanup.
func (tel *telemetry) registry(t *testing.T, cfg registry.Config) *registry.Registry {
	reg, err := registry.New(nil, cfg, dbactorotel.With(
		dbactorotel.WithTracerProvider(tel.tp),
		dbactorotel.WithMeterProvider(tel.mp),
	))
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	return reg
}

func (tel *telemetry) collect(t *testing.T) metricdata.ResourceMetrics {
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	return rm
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// points returns the attribute sets of the data points of the metric name.
func points(rm metricdata.ResourceMetrics, name string) []attribute.Set {
	var out []attribute.Set
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			}
		}
	}
	return out
}

// hasPoint reports whether the metric name has a data point with every
// attribute of want.
func hasPoint(rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) bool {
	for _, set := range points(rm, name) {
		ok := true
		for _, kv := range want {
			if v, found := set.Value(kv.Key); !found || v != kv.Value {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func attr(s tracetest.SpanStub, key attribute.Key) (string, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

// spansOf returns the spans whose db.query.text is query.
func spansOf(spans tracetest.SpanStubs, query string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if q, _ := attr(s, "db.query.text"); q == query {
			out = append(out, s)
		}
	}
	return out
}

// requireNoSecret fails if an argument value shows anywhere in a span.
func requireNoSecret(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	for _, s := range spans {
		require.NotContains(t, s.Name, secret)
		require.NotContains(t, s.Status.Description, secret)
		for _, kv := range s.Attributes {
			require.NotContains(t, kv.Value.String(), secret, "span %q attribute %s", s.Name, kv.Key)
		}
		for _, e := range s.Events {
			for _, kv := range e.Attributes {
				require.NotContains(t, kv.Value.String(), secret, "span %q event %s attribute %s", s.Name, e.Name, kv.Key)
			}
		}
	}
}

// requireStatementSpans checks the spans of query: at least one, each a
// client span inside parent on database, with the SQL text.
func requireStatementSpans(t *testing.T, spans tracetest.SpanStubs, parent tracetest.SpanStub, query, system, database string) []tracetest.SpanStub {
	t.Helper()
	got := spansOf(spans, query)
	require.NotEmpty(t, got, "no span for %q", query)
	for _, s := range got {
		require.Equal(t, parent.SpanContext.TraceID(), s.SpanContext.TraceID(), query)
		require.True(t, descends(spans, s, parent), "span %q of %q is not inside the request", s.Name, query)
		require.Equal(t, trace.SpanKindClient, s.SpanKind, query)
		db, ok := attr(s, dbactorotel.DatabaseKey)
		require.True(t, ok, "span %q of %q has no %s", s.Name, query, dbactorotel.DatabaseKey)
		require.Equal(t, database, db, query)
		sys, _ := attr(s, "db.system.name")
		require.Equal(t, system, sys, query)
		require.False(t, s.EndTime.Before(s.StartTime), query)
		require.False(t, s.StartTime.Before(parent.StartTime), query)
		require.False(t, s.EndTime.After(parent.EndTime), query)
	}
	return got
}

// descends reports whether s is a descendant of ancestor (otelpgx nests a
// statement's prepare span in its query span).
func descends(spans tracetest.SpanStubs, s, ancestor tracetest.SpanStub) bool {
	for range len(spans) {
		if s.Parent.SpanID() == ancestor.SpanContext.SpanID() {
			return true
		}
		found := false
		for _, p := range spans {
			if p.SpanContext.SpanID() == s.Parent.SpanID() {
				s, found = p, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return false
}

func findSpan(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q", name)
	return tracetest.SpanStub{}
}

// TestSQLite: a span per statement of each database, with the SQL text,
// the database's name, its real times and an error status when it failed,
// never an argument value; sql.DB pool metrics while connected only.
func TestSQLite(t *testing.T) {
	tel := newTelemetry(t)
	dir := t.TempDir()
	reg := tel.registry(t, registry.Config{
		Database: "sqlite:///" + filepath.Join(dir, "main.db"),
		Extra:    map[string]string{"analytics": "sqlite:///" + filepath.Join(dir, "analytics.db")},
	})
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))

	rm := tel.collect(t)
	for _, database := range []string{"", "analytics"} {
		require.True(t, hasPoint(rm, "db.sql.connection.max_open",
			dbactorotel.DatabaseKey.String(database), attribute.String("db.system.name", "sqlite")),
			"pool metrics of %q while connected", database)
	}

	analytics, err := reg.Extra("analytics")
	require.NoError(t, err)
	db := analytics.DB()
	const (
		create  = "CREATE TABLE notes (body TEXT)"
		insert  = "INSERT INTO notes (body) VALUES (?)"
		query   = "SELECT body FROM notes WHERE body = ?"
		failing = "INSERT INTO no_such_table VALUES (1)"
		onMain  = "SELECT 1"
		outside = "SELECT 2"
	)
	traced, parent := tel.tp.Tracer("test").Start(ctx, "request")
	_, err = db.ExecContext(traced, create)
	require.NoError(t, err)
	_, err = db.ExecContext(traced, insert, secret)
	require.NoError(t, err)
	var body string
	require.NoError(t, db.QueryRowContext(traced, query, secret).Scan(&body))
	require.Equal(t, secret, body)
	_, err = db.ExecContext(traced, failing)
	require.ErrorContains(t, err, "no_such_table")
	_, err = reg.Database().DB().ExecContext(traced, onMain)
	require.NoError(t, err)
	parent.End()
	_, err = db.ExecContext(ctx, outside) // no recording span: no span
	require.NoError(t, err)

	spans := tel.spans.GetSpans()
	request := findSpan(t, spans, "request")
	for _, q := range []string{create, insert, query} {
		for _, s := range requireStatementSpans(t, spans, request, q, "sqlite", "analytics") {
			require.Equal(t, codes.Unset, s.Status.Code, q)
		}
	}
	ins := requireStatementSpans(t, spans, request, insert, "sqlite", "analytics")[0]
	require.Equal(t, "INSERT", ins.Name)
	op, _ := attr(ins, "db.operation.name")
	require.Equal(t, "INSERT", op)
	for _, s := range requireStatementSpans(t, spans, request, failing, "sqlite", "analytics") {
		require.Equal(t, codes.Error, s.Status.Code)
		require.Contains(t, s.Status.Description, "no_such_table")
	}
	requireStatementSpans(t, spans, request, onMain, "sqlite", "")
	require.Empty(t, spansOf(spans, outside), "a statement outside any trace makes no root span")
	requireNoSecret(t, spans)

	rm = tel.collect(t)
	require.True(t, hasPoint(rm, "db.client.operation.duration",
		dbactorotel.DatabaseKey.String("analytics"), attribute.String("db.operation.name", "INSERT")))
	require.True(t, hasPoint(rm, "db.client.operation.duration",
		dbactorotel.DatabaseKey.String("analytics"), attribute.String("error.type", "_OTHER")))
	require.True(t, hasPoint(rm, "db.client.operation.duration",
		dbactorotel.DatabaseKey.String(""), attribute.String("db.system.name", "sqlite")))

	requirePoolMetricsCycle(t, tel, reg, "db.sql.connection.max_open", "", "analytics")
}

// TestPostgres: otelpgx spans of statements through Pool() and DB(), with
// the database's name, an error status when it failed, never an argument
// value; pgxpool metrics while connected only.
func TestPostgres(t *testing.T) {
	url := testdb.NewPostgresDatabase(t)
	tel := newTelemetry(t)
	reg := tel.registry(t, registry.Config{Database: url, Extra: map[string]string{"reports": url}})
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))

	rm := tel.collect(t)
	for _, database := range []string{"", "reports"} {
		require.True(t, hasPoint(rm, "pgxpool.max_connections",
			dbactorotel.DatabaseKey.String(database), attribute.String("db.system.name", "postgresql")),
			"pool metrics of %q while connected", database)
	}

	reports, err := reg.Extra("reports")
	require.NoError(t, err)
	const (
		viaPool = "SELECT $1::text"
		viaDB   = "SELECT length($1::text)"
		failing = "SELECT * FROM dbactor_no_such_table"
		onMain  = "SELECT 1"
		outside = "SELECT 2"
	)
	traced, parent := tel.tp.Tracer("test").Start(ctx, "request")
	var echoed string
	require.NoError(t, reports.Pool().QueryRow(traced, viaPool, secret).Scan(&echoed))
	require.Equal(t, secret, echoed)
	var n int
	require.NoError(t, reports.DB().QueryRowContext(traced, viaDB, secret).Scan(&n))
	require.Equal(t, len(secret), n)
	_, err = reports.Pool().Exec(traced, failing)
	require.ErrorContains(t, err, "dbactor_no_such_table")
	_, err = reg.Database().Pool().Exec(traced, onMain)
	require.NoError(t, err)
	parent.End()
	_, err = reports.Pool().Exec(ctx, outside)
	require.NoError(t, err)

	spans := tel.spans.GetSpans()
	request := findSpan(t, spans, "request")
	for _, q := range []string{viaPool, viaDB} {
		for _, s := range requireStatementSpans(t, spans, request, q, "postgresql", "reports") {
			require.Equal(t, codes.Unset, s.Status.Code, q)
		}
	}
	failed := requireStatementSpans(t, spans, request, failing, "postgresql", "reports")
	for _, s := range failed {
		require.Equal(t, codes.Error, s.Status.Code, "span %q", s.Name)
		state, _ := attr(s, "pgx.sql_state")
		require.Equal(t, "42P01", state, "undefined_table")
	}
	requireStatementSpans(t, spans, request, onMain, "postgresql", "")
	require.Empty(t, spansOf(spans, outside), "a statement outside any trace makes no root span")
	requireNoSecret(t, spans)

	rm = tel.collect(t)
	require.True(t, hasPoint(rm, "db.client.operation.duration",
		dbactorotel.DatabaseKey.String("reports"), attribute.String("db.operation.name", "SELECT")))

	requirePoolMetricsCycle(t, tel, reg, "pgxpool.max_connections", "", "reports")
}

// requirePoolMetricsCycle checks that a pool's metric stops with the pool
// (Disconnect), comes back with a new one (Connect), and stops for good
// (Close); then it shuts the providers down.
func requirePoolMetricsCycle(t *testing.T, tel *telemetry, reg *registry.Registry, metric string, databases ...string) {
	t.Helper()
	ctx := testCtx(t)
	check := func(want bool, when string) {
		rm := tel.collect(t)
		for _, database := range databases {
			require.Equal(t, want, hasPoint(rm, metric, dbactorotel.DatabaseKey.String(database)),
				"pool metrics of %q %s", database, when)
		}
	}
	require.NoError(t, reg.Disconnect(ctx)) // waits for the pools to close
	check(false, "after disconnect")
	require.NoError(t, reg.Connect(ctx))
	check(true, "after reconnect")
	require.NoError(t, reg.Close(ctx)) // waits for the pools to close
	check(false, "after the pool closed")
	tel.shutdown(t)
}

// TestGlobalProviders: without options the global providers are used.
func TestGlobalProviders(t *testing.T) {
	in := dbactorotel.Instrumentation()
	require.NotNil(t, in.QueryTracer)
	require.NotNil(t, in.Statement)
	require.NotNil(t, in.Opened)
	require.NotNil(t, in.QueryTracer("x"))
	require.Nil(t, in.Opened("x", nil, nil), "nothing to measure, nothing to stop")
	in.Statement(context.Background(), "x", "SELECT 1", 0, time.Millisecond, nil) // no recording span: no-op
	require.True(t, strings.HasPrefix(dbactorotel.ScopeName, "github.com/dbactor/dbactor"))
}
