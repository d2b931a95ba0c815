// Package autogen writes the next migration for a registry: it compares the
// registered models with the live database, per database and per schema,
// and turns what differs into up and down SQL (Edgy's makemigrations,
// Alembic's autogenerate), on ariga.io/atlas's inspect, diff and planner.
//
//	changes, err := autogen.Diff(ctx, reg)                          // main + every extra database
//	files, err := autogen.Write("migrations", "add_email", changes) // goose files; none for an empty diff
//	changes, err = autogen.Diff(ctx, reg, autogen.Tenant("tenant_a")) // the tenant set, compared in tenant_a
//
// # What is compared
//
// Whatever reg.Models() returns — every registered model, with the columns
// the registry added (content types) and whatever a model hook added — is
// the desired state. Its tables are rendered by models.Model.CreateTableSQL
// and inspected by atlas in a scratch place (a schema inside a transaction
// that is rolled back on PostgreSQL, a private in-memory database on
// SQLite), then compared with atlas's inspection of the live tables: new
// tables, added and dropped columns, types, nullability, defaults, unique
// constraints, indexes, primary keys and foreign keys (with ON DELETE).
// Only the tables of registered models are looked at: a table no model
// names is never proposed for dropping unless DropUnknown is given. What a
// live table has and a model cannot express (CHECK constraints, indexes
// over several columns or expressions, partial indexes, composite foreign
// keys) is kept: never dropped, and recreated by SQLite's table rebuild.
// Comments and collations are not compared.
//
// A model goes to its database (models.Database, "" the main one) and to
// its schema: its own (models.Schema), else the registry's Config.Schema,
// else the database's default schema. With Tenant, the models without a
// schema of their own are compared against the tenant's schema instead
// (the set CreateSchema(…, WithModels()) creates), and the result is the
// tenant set, written to tenants/ and applied to every tenant.
//
// # Statements
//
// Up statements bring the database to the models; Down statements, from
// atlas's reverse diff, bring it back. Statements for the default schema
// and for tenants are unqualified (PostgreSQL resolves them through
// search_path; on SQLite they address the database a migration runs in), so
// one tenant set fits every tenant; statements for a named schema
// (Config.Schema, models.Schema) are qualified with it (on SQLite, an
// attached database, which must exist: reg.CreateSchema). SQLite cannot
// alter most of a column in place: atlas rebuilds the table (create a new
// one, copy the rows, drop, rename), which needs foreign keys off, which
// SQLite ignores inside a transaction: such a Change has NoTransaction set
// and carries its own BEGIN and COMMIT.
//
// # Files
//
// Write lays changes out as goose SQL migrations, one set per database and
// one for the tenants: <dir>/<database>/NNNNN_<name>.sql, with <database>
// "default" for the main database, and <dir>/<database>/tenants/ for the
// tenant set. NNNNN follows the highest version already in that directory.
package autogen
