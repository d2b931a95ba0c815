package dbactorotel

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/semconv/v1.40.0/dbconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/registry"
)

// ScopeName is the instrumentation scope of the SQLite spans and metrics
// this package makes itself (PostgreSQL's come from otelpgx, under its own).
const ScopeName = "github.com/dbactor/dbactor/otel"

// DatabaseKey is the attribute naming the registry database a span or
// metric belongs to: "" for the main database, else the extra's name (as
// in registry.Config.Extra and the registry's events).
const DatabaseKey = attribute.Key("db.dbactor.database")

// Option configures [Instrumentation] and [With].
type Option func(*config)

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// WithTracerProvider sets the provider of the spans. The default is the
// global one (otel.GetTracerProvider) at the time Instrumentation is
// called, which follows a later otel.SetTracerProvider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the provider of the metrics. The default is the
// global one (otel.GetMeterProvider) at the time Instrumentation is called,
// which follows a later otel.SetMeterProvider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// With instruments every database the registry owns:
// registry.WithInstrumentation(Instrumentation(opts...)). Like
// registry.WithInstrumentation it replaces any instrumentation set before
// it. A database shared from another registry (registry.WithExtraDatabase)
// is instrumented by the registry that owns it.
func With(opts ...Option) registry.Option {
	return registry.WithInstrumentation(Instrumentation(opts...))
}

// Instrumentation returns the actors.Instrumentation that traces and
// measures a registry's databases with OpenTelemetry (see the package
// documentation for what it records). Pass it to
// registry.WithInstrumentation, or use [With].
func Instrumentation(opts ...Option) actors.Instrumentation {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	s := &sqlite{tracer: c.tp.Tracer(ScopeName)}
	var err error
	s.duration, err = dbconv.NewClientOperationDuration(c.mp.Meter(ScopeName),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10)) // otelpgx's
	if err != nil {
		otel.Handle(err) // the instrument is then a no-op one
	}
	return actors.Instrumentation{
		QueryTracer: func(database string) pgx.QueryTracer {
			db := DatabaseKey.String(database)
			return otelpgx.NewTracer(
				otelpgx.WithTracerProvider(c.tp),
				otelpgx.WithMeterProvider(c.mp),
				otelpgx.WithTracerAttributes(db),
				otelpgx.WithMeterAttributes(semconv.DBSystemNamePostgreSQL, db),
				otelpgx.WithMetricOperationName(otelpgx.SQLOperationName),
			)
		},
		Statement: s.statement,
		Opened: func(database string, pool *pgxpool.Pool, db *sql.DB) func() {
			return opened(c.mp, database, pool, db)
		},
	}
}

// opened starts the pool metrics of a newly opened pool and returns what
// stops them.
func opened(mp metric.MeterProvider, database string, pool *pgxpool.Pool, db *sql.DB) func() {
	name := DatabaseKey.String(database)
	if pool != nil {
		// RecordStats keeps its callback registered forever; seeing the
		// registration through the provider lets the closing func end it,
		// so a closed pool is neither reported nor kept alive.
		regs := &registrations{}
		err := otelpgx.RecordStats(pool,
			otelpgx.WithStatsMeterProvider(capturingProvider{MeterProvider: mp, regs: regs}),
			otelpgx.WithStatsAttributes(name))
		if err != nil {
			otel.Handle(err)
		}
		return regs.unregister
	}
	if db == nil {
		return nil
	}
	reg, err := otelsql.RegisterDBStatsMetrics(db,
		otelsql.WithMeterProvider(mp),
		otelsql.WithAttributes(semconv.DBSystemNameSQLite, name))
	if err != nil {
		otel.Handle(err)
		return nil
	}
	return func() {
		if err := reg.Unregister(); err != nil {
			otel.Handle(err)
		}
	}
}

// sqlite makes the spans and the duration metric of SQLite statements.
type sqlite struct {
	tracer   trace.Tracer
	duration dbconv.ClientOperationDuration
}

// statement is actors.Instrumentation.Statement: it is called after the
// statement ran, so the span gets explicit start and end times.
func (s *sqlite) statement(ctx context.Context, database, query string, _ int, took time.Duration, err error) {
	if errors.Is(err, driver.ErrSkip) {
		return // database/sql runs the statement again another way
	}
	end := time.Now()
	op := otelpgx.SQLOperationName(ctx, query)
	db := DatabaseKey.String(database)
	if err == nil {
		s.duration.Record(ctx, took.Seconds(), dbconv.SystemNameSQLite, semconv.DBOperationName(op), db)
	} else {
		s.duration.Record(ctx, took.Seconds(), dbconv.SystemNameSQLite, semconv.DBOperationName(op), db, semconv.ErrorTypeOther)
	}
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	_, span := s.tracer.Start(ctx, op,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(end.Add(-took)),
		trace.WithAttributes(semconv.DBSystemNameSQLite, db, semconv.DBQueryText(query), semconv.DBOperationName(op)))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(trace.WithTimestamp(end))
}

// registrations collects the callback registrations made through a
// capturingProvider.
type registrations struct {
	mu   sync.Mutex
	regs []metric.Registration
}

func (r *registrations) add(reg metric.Registration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.regs = append(r.regs, reg)
}

// unregister ends every registration collected so far.
func (r *registrations) unregister() {
	r.mu.Lock()
	regs := r.regs
	r.regs = nil
	r.mu.Unlock()
	for _, reg := range regs {
		if err := reg.Unregister(); err != nil {
			otel.Handle(err)
		}
	}
}

// capturingProvider is a MeterProvider whose meters record the callback
// registrations made through them.
type capturingProvider struct {
	metric.MeterProvider
	regs *registrations
}

// Meter implements metric.MeterProvider.
func (p capturingProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return capturingMeter{Meter: p.MeterProvider.Meter(name, opts...), regs: p.regs}
}

// capturingMeter is a Meter that records its callback registrations.
type capturingMeter struct {
	metric.Meter
	regs *registrations
}

// RegisterCallback implements metric.Meter.
func (m capturingMeter) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	reg, err := m.Meter.RegisterCallback(f, instruments...)
	if err == nil && reg != nil {
		m.regs.add(reg)
	}
	return reg, err
}
