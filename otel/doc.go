// Package dbactorotel adds OpenTelemetry tracing and pool metrics to a
// dbactor registry. The core (registry, actors) imports none of it: it only
// exposes [actors.Instrumentation], which this package fills in.
//
//	reg, err := registry.New(system, cfg, dbactorotel.With()) // the global providers
//	// or with providers of your own:
//	reg, err := registry.New(system, cfg, dbactorotel.With(
//	    dbactorotel.WithTracerProvider(tp),
//	    dbactorotel.WithMeterProvider(mp),
//	))
//
// What it records, per database of the registry (the attribute
// db.dbactor.database names it: "" for the main database, else the extra's
// name):
//
//   - PostgreSQL: spans and the db.client.operation.duration and
//     db.client.operation.errors metrics from github.com/exaring/otelpgx
//     (one tracer per pool), and the pool's pgxpool.* metrics
//     (otelpgx.RecordStats) from the moment the pool opens until it closes.
//   - SQLite: one span per statement, named by its operation (SELECT,
//     INSERT…), with db.system.name=sqlite, db.query.text and
//     db.operation.name, its real start and end times, and an error status
//     when the statement failed; the db.client.operation.duration metric;
//     and the *sql.DB's db.sql.connection.* metrics
//     (otelsql.RegisterDBStatsMetrics) while the pool is open.
//
// Attribute names follow the current OpenTelemetry semantic conventions for
// databases (db.system.name, db.query.text, db.operation.name), the same
// ones otelpgx uses, so both dialects can be queried alike.
//
// Spans are children: a statement gets a span only when its context carries
// a recording span (a traced request, a job), as otelpgx does, so
// statements outside any trace (health pings, connect-time setup) make no
// root spans. Metrics are recorded either way.
//
// Argument values are never recorded: spans carry the SQL text only. The
// SQL text itself is recorded as written, and a failed statement's error
// message as the server or driver wrote it; keep literal secrets out of SQL
// text (pass them as arguments).
package dbactorotel
