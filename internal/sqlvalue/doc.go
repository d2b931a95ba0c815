// Package sqlvalue converts between the protocol's typed SQL values
// (messages.Value, used by messages.Query, Exec and QueryResult) and Go.
//
// Four directions:
//
//   - [Args]: protocol arguments → what database/sql hands the driver
//     (nil, bool, int64, float64, string, []byte, time.Time). A numeric and
//     a JSON argument travel as their text: pgx's stdlib driver accepts a
//     string for a numeric, json, jsonb, uuid or date parameter (the server
//     parses it), and modernc.org/sqlite stores it as text (a NUMERIC
//     column converts it to INTEGER or REAL by its affinity). A time is
//     sent in UTC.
//   - [FromGo] / [FromGoArgs]: Go values a client passes → protocol
//     arguments (the facade of a client that holds no *sql.DB).
//   - [FromScan]: what database/sql scanning into an `any` gives for one
//     column → a protocol value, using the column's database type name
//     (sql.ColumnType.DatabaseTypeName) to recognise numerics, JSON, dates
//     and booleans.
//   - [ToGo]: a protocol value → a Go value.
//
// # What the drivers return (verified, pgx v5.12.0 stdlib and modernc.org/sqlite v1.62.0)
//
// PostgreSQL, pgx stdlib, by column type (DatabaseTypeName in brackets):
//
//   - bool [BOOL] → bool; int2, int4, int8, oid, xid, cid → int64;
//     float4, float8 → float64; bytea [BYTEA] → []byte.
//   - date [DATE], timestamp [TIMESTAMP], timestamptz [TIMESTAMPTZ] →
//     time.Time (timestamptz in the local zone: FromScan turns it to UTC);
//     the infinite timestamps come as the strings "infinity" and
//     "-infinity", which FromScan keeps as text.
//   - numeric [NUMERIC] → string with the exact decimal text ("12.50",
//     "NaN") → a numeric Value.
//   - json [JSON], jsonb [JSONB] → []byte of the document (jsonb in its
//     normalised form) → a json Value.
//   - xml [XML] → []byte → text.
//   - Everything else comes as the server's text form, a string, kept as
//     text: uuid [UUID] ("a0eebc99-…"), time [TIME] ("03:04:05"), interval
//     [INTERVAL] ("1 day 02:00:00"), arrays [_INT4, _TEXT…] ("{1,2}"),
//     inet, point, bit, char(n) [BPCHAR] (blank-padded), money (its type
//     name is the OID, "790", and its text is locale-formatted: "$12.34").
//
// SQLite, modernc.org/sqlite; DatabaseTypeName is the column's declared
// type as written, upper-cased ("DECIMAL(10,2)", "VARCHAR(10)"), and ""
// for an expression:
//
//   - INTEGER storage → int64, REAL → float64, TEXT → string, BLOB →
//     []byte, NULL → nil, whatever the declared type, except:
//   - a column declared DATE, DATETIME or TIMESTAMP whose text parses as a
//     time → time.Time (modernc writes a time.Time argument as its String()
//     form, which it parses back; Args sends times in UTC so it does).
//     FromScan parses the same forms when the driver did not (a time in an
//     expression comes back as a string, and stays text there, since
//     nothing says it is a time).
//   - BOOLEAN/BOOL columns hold integers (true is 1): FromScan gives a bool.
//   - NUMERIC/DECIMAL columns hold what their affinity made of the value:
//     "12.50" is stored as REAL 12.5, and a value with more than 15
//     significant digits loses the rest. SQLite has no exact decimal type:
//     FromScan gives a numeric Value with the shortest decimal text of what
//     is stored ("12.5"); store exact decimals in a TEXT column to keep
//     them exact (they come back as text).
//   - JSON/JSONB columns hold text: FromScan gives a json Value when it is
//     valid JSON, text otherwise.
//
// A value of a type FromScan does not know (no driver above returns one)
// is an error wrapping messages.ErrUnsupported.
package sqlvalue
