// Package introspect reads an existing table into a model (Edgy's reflected
// models), so code can work with tables it did not define: a legacy table,
// another service's, a tenant's.
//
//	m, err := introspect.Table(ctx, reg.Database(), "", "legacy_users")
//	m, err = introspect.Table(ctx, an, "tenant_a", "events", introspect.Name("Event"))
//	_, err = reg.RegisterModel(ctx, m)  // or m.QualifiedTable, m.CreateTableSQL, …
//
// It inspects the table with ariga.io/atlas on either dialect, in any schema
// ("" is the database's default schema; on SQLite a schema is an attached
// database) and maps what it finds to a messages.ModelDef, validated by
// models.New: columns in table order, their types in dbactor's vocabulary,
// nullability, defaults (as the database spells them, e.g. 'x'::text on
// PostgreSQL), the primary key (composite too), auto-increment (an identity
// or serial column on PostgreSQL, a rowid alias INTEGER PRIMARY KEY on
// SQLite), single-column UNIQUE constraints and indexes, and single-column
// foreign keys with their ON DELETE action.
//
// # Types
//
//	PostgreSQL                       SQLite (declared type)          column type
//	bigint, bigserial                INTEGER, INT, BIGINT, INT8      BIGINT
//	integer, serial                  MEDIUMINT, INT4                 INTEGER
//	smallint, smallserial            SMALLINT, TINYINT, INT2         SMALLINT
//	text, varchar(n)                 TEXT, CLOB, VARCHAR(n), …       TEXT (n: size)
//	boolean                          BOOLEAN, BOOL                   BOOLEAN
//	double precision                 REAL, DOUBLE, FLOAT, …          DOUBLE
//	real                             –                               REAL
//	timestamp[tz]                    DATETIME, TIMESTAMP             TIMESTAMP
//	date                             DATE                            DATE
//	bytea                            BLOB                            BYTES
//	numeric(p,s)                     NUMERIC, DECIMAL(p,s)           NUMERIC
//	json, jsonb                      JSON                            JSON
//	uuid                             UUID                            UUID
//
// Anything else (arrays, enums, char(n), intervals, geometry…) is a
// *TypeError (ErrUnknownType): models has no raw-type column. Precision
// and scale of numeric, and timestamp without time zone, are not kept (the
// model renders NUMERIC and TIMESTAMPTZ).
//
// # What is not kept
//
// What a model cannot express is an *UnsupportedError (ErrUnsupported)
// unless SkipUnsupported is given, which leaves it out: indexes and UNIQUE
// constraints over several columns or expressions, partial indexes,
// composite foreign keys, foreign keys to another schema, ON DELETE SET
// DEFAULT. CHECK constraints, ON UPDATE actions, comments and index names
// are always left out (CreateTableSQL names indexes <table>_<column>_idx).
package introspect
