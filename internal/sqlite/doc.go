// Package sqlite gives SQLite PostgreSQL-like schemas, so tenancy code
// (CREATE TABLE "tenant_a"."users" …, INSERT INTO "tenant_a"."users" …)
// runs unchanged on the embedded default (DESIGN.md, deviation 4).
//
// SQLite has no CREATE SCHEMA. A schema here is an attached database, and
// it is attached on every connection of the pool: Open builds the *sql.DB on
// a driver.Connector of this package whose connections attach the whole
// schema set when they open, and catch up with it (detaching dropped
// schemas, attaching new ones) every time database/sql hands them out
// again. A *DB keeps the set with a version number; each connection
// remembers the version it is in step with and the generation of every
// schema it attached, so a schema dropped and created again under the same
// name is attached afresh (and empty) everywhere.
//
// # Files
//
// The schemas of the file database app.db live in the directory
// app.db.schemas/, one SQLite file per schema, named
// <encoded name>.<generation>.db. The encoding keeps [a-z0-9_-] and writes
// every other byte as %xx, so any valid name (quotes, "/", "..", unicode, up
// to 63 bytes) maps to one safe file name and back. The directory is the
// source of truth: Open reads it, and so do CreateSchema, DropSchema and
// Schemas, so a DB opened later, or another process, sees the schemas
// created before. Creating and dropping hold an flock(2) on
// app.db.schemas/.lock, so two processes never create the same schema
// twice. If the main database is in WAL mode, new schemas are put in WAL
// mode too.
//
// A memory database (cfg.Memory: one connection) attaches ':memory:' for
// each schema; the set lives in the *DB and dies with it.
//
// # Names
//
// Names are checked with ident.Validate and always quoted with ident.Quote;
// file names are bound as parameters, never written into SQL. SQLite
// compares schema names ignoring ASCII case, so "Tenant" and "tenant" are
// one schema: creating the second reports that it already exists. Schemas
// lists the spelling the schema was created with. "main" always exists and
// cannot be dropped; "temp" is SQLite's temporary database and can be
// neither created nor dropped.
//
// # Limits (what cannot be made to behave like PostgreSQL)
//
//   - SQLite attaches at most SQLITE_MAX_ATTACHED databases (10 in
//     modernc.org/sqlite) to a connection, so a database has at most 10
//     schemas besides main. Creating one more fails with
//     messages.ErrUnsupported and changes nothing.
//   - A connection in use while a schema is created or dropped (held by a
//     sql.Conn, a sql.Tx, a statement under way) keeps the set it had until
//     it goes back to the pool. It may still read a dropped schema; writing
//     to it fails ("attempt to write a readonly database": SQLite refuses
//     to write to a file that was deleted).
//   - Another DB's or process's CreateSchema/DropSchema reaches every
//     connection of this pool the next time database/sql hands it out:
//     every change increments the counter in app.db.schemas/.version under
//     the exclusive lock, and a connection handed out compares it with the
//     one this DB saw, reading the directory again only when it changed.
//     On Unix the counter is mapped into memory once the file exists, so
//     the check is an atomic load; before that it is one fstat(2) of the
//     main file's directory (see version_unix.go). A connection held meanwhile (sql.Conn,
//     sql.Tx) keeps its set until it goes back to the pool; a write there
//     to a schema dropped under it fails with an *Error (Op OpUse,
//     messages.ErrSchema), never SQLite's raw "attempt to write a readonly
//     database". Do not delete the version file by hand.
//   - Foreign keys work between tables of one schema (PRAGMA foreign_keys
//     is per connection and the DSN turns it on), but SQLite has no foreign
//     keys from one attached database to another, or to main.
//   - A transaction spanning several schemas is atomic only if the main
//     database is not in WAL mode (SQLite's rule for attached databases).
//   - Outside Unix (no flock) schema changes are serialised only within one
//     *DB.
package sqlite
