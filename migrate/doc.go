// Package migrate applies versioned migrations to every database of a
// registry, and to every tenant schema of each, on pressly/goose v3's
// Provider API.
//
// # Layout
//
// One directory tree (any fs.FS: embed.FS, os.DirFS) holds one set of
// migrations per database, in goose's format (-- +goose Up / -- +goose
// Down, NNNNN_name.sql):
//
//	migrations/
//	  default/00001_users.sql          the main database
//	  default/tenants/00001_orders.sql every tenant schema of the main database
//	  analytics/00001_events.sql       the extra database "analytics"
//	  analytics/tenants/…              every tenant schema of "analytics"
//
// WithGoMigrations adds Go migrations to any set. Create writes a new, empty
// migration into the tree.
//
// # Running
//
//	rep, err := migrate.Up(ctx, reg, fsys)                   // every set, every tenant
//	rep, err = migrate.Down(ctx, reg, fsys, migrate.To(0))   // roll everything back
//	rep, err = migrate.Status(ctx, reg, fsys, migrate.Tenants("acme"))
//	rep, err = migrate.Up(ctx, reg, fsys, migrate.DryRun())  // what would run
//	rep.WriteTo(os.Stdout)
//
// Each call runs the sets one after the other: the main database's own set,
// its tenants' (by name), then each extra's likewise. Every set takes part
// and is reported in the Report (what ran, what is pending, its failure);
// the error joins a *MigrationError per failed set (StopOnError stops at
// the first). A database is connected for the call (a ref count, as schema
// calls take one), so the registry need not be.
//
// # Version tables and tenants
//
// Every set has its own version table (goose's goose_db_version, see
// VersionTable): the database's own set in the database's current schema,
// a tenant's inside the tenant schema. On PostgreSQL a tenant's migrations
// run on connections of their own whose search_path is the tenant schema
// alone, so its migrations are written unqualified (CREATE TABLE orders …)
// and the same files serve every tenant. SQLite has no search_path: a
// tenant schema is a database file attached beside the main one
// (app.db.schemas/…), so a tenant's migrations run on connections opened on
// that file itself, where unqualified names resolve to the tenant and to
// nothing else — the same files, the same meaning. The main database's own
// set likewise runs on connections to the main file alone (a table a main
// migration names that main lacks never resolves to a tenant's). An
// in-memory SQLite database has no tenant sets (ErrUnsupported).
//
// # Concurrency
//
// Instances that start together may all run Up: the sets take turns. On
// PostgreSQL each set is guarded by a session advisory lock keyed by its
// schema and version table (pg_advisory_lock, released when the set is
// done or the session ends); on SQLite every set of a database by an
// flock(2) on <main file>.migrate.lock. The first instance applies the
// migrations; the others then find nothing pending. Each migration is
// applied exactly once.
//
// # Atomicity
//
// Each migration runs in its own transaction (unless its file says
// -- +goose NO TRANSACTION) together with its version row, so a migration
// is applied with its row or not at all, and a failed one is reported as
// failed, never as applied. Nothing larger is atomic: atomicity across
// databases — or across the tenant schemas of one database, or across the
// migrations of one set — is not possible, since each is a separate
// commit (and two databases are two servers or files with no common
// transaction). What happens instead: a failure stops its own set at the
// failed migration (those before it stay applied), every other set is still
// attempted, and the Report says exactly which versions each set is at, so
// fixing the migration and running Up again finishes the job.
//
// # Across nodes
//
// Serve makes a registry answer the protocol's Migrate requests with its
// node's own migrations, so that a client node (client.Client's
// MigrateStatus, MigrateUp, MigrateDown — which link neither goose nor a
// database driver) can run them; a request chooses which sets, which way
// and how far, never the SQL. The node's policy authorizes each request
// first: status and dry runs need node.OpRead, up and down node.OpSchema,
// on every database they touch. The registry actor runs each request on a
// goroutine of its own (MaxServed at once) and answers the sender from
// there; replies are bounded like a Query's.
//
// # Why not a Registry method
//
// Issue 17 sketched reg.Migrate(ctx, fsys, …). It is a package of its own
// instead, so that the registry's import graph does not gain goose (go
// list -deps ./registry): a program that does not migrate does not link
// it, as with package otel. OnConnect plugs it into the registry's
// lifespan (registry.WithStartup): pending migrations are applied inside
// the first Connect, before Serve binds, all or nothing with that Connect.
package migrate
