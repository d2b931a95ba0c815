// Package atlasx reads database schemas into ariga.io/atlas's schema
// model, for the autogen and introspect packages: the live state of a
// database's tables, and the state that models' CREATE TABLE statements
// produce.
//
// Both sides are inspected by atlas from a real database, never built by
// hand, so that they compare like for like (PostgreSQL normalises types and
// default expressions; comparing inspected with inspected needs no second
// guess of it):
//
//   - PostgreSQL, live: atlas's inspector on the database itself.
//   - PostgreSQL, models: the models' CreateTableSQL run in a scratch schema
//     inside a transaction that is always rolled back, inspected there.
//   - SQLite, live and models: atlas's SQLite driver inspects only the main
//     database of a connection (it ignores attached databases), and dbactor's
//     schemas are attached databases. So the CREATE statements of the tables
//     (sqlite_master of the schema, which SQLite keeps as written minus the
//     schema qualifier), or the models' CreateTableSQL, are replayed into a
//     private in-memory database and inspected there as "main".
//
// This package is internal; it links atlas, which registry must not.
package atlasx
