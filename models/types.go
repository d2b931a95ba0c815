package models

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
)

// typeNames are the names type= accepts, one per known column type.
var typeNames = map[string]messages.ColumnType{
	"bigint":    messages.ColumnType_COLUMN_TYPE_BIGINT,
	"integer":   messages.ColumnType_COLUMN_TYPE_INTEGER,
	"smallint":  messages.ColumnType_COLUMN_TYPE_SMALLINT,
	"text":      messages.ColumnType_COLUMN_TYPE_TEXT,
	"boolean":   messages.ColumnType_COLUMN_TYPE_BOOLEAN,
	"double":    messages.ColumnType_COLUMN_TYPE_DOUBLE,
	"real":      messages.ColumnType_COLUMN_TYPE_REAL,
	"timestamp": messages.ColumnType_COLUMN_TYPE_TIMESTAMP,
	"bytes":     messages.ColumnType_COLUMN_TYPE_BYTES,
	"numeric":   messages.ColumnType_COLUMN_TYPE_NUMERIC,
	"json":      messages.ColumnType_COLUMN_TYPE_JSON,
	"uuid":      messages.ColumnType_COLUMN_TYPE_UUID,
	"date":      messages.ColumnType_COLUMN_TYPE_DATE,
}

// postgresTypes and sqliteTypes map every known column type to the
// dialect's type. The SQLite names matter beyond affinity: modernc.org/sqlite
// scans TEXT stored in a column declared DATE, DATETIME or TIMESTAMP back
// into time.Time, and a column declared exactly INTEGER PRIMARY KEY is the
// rowid.
var (
	postgresTypes = map[messages.ColumnType]string{
		messages.ColumnType_COLUMN_TYPE_BIGINT:    "BIGINT",
		messages.ColumnType_COLUMN_TYPE_INTEGER:   "INTEGER",
		messages.ColumnType_COLUMN_TYPE_SMALLINT:  "SMALLINT",
		messages.ColumnType_COLUMN_TYPE_TEXT:      "TEXT",
		messages.ColumnType_COLUMN_TYPE_BOOLEAN:   "BOOLEAN",
		messages.ColumnType_COLUMN_TYPE_DOUBLE:    "DOUBLE PRECISION",
		messages.ColumnType_COLUMN_TYPE_REAL:      "REAL",
		messages.ColumnType_COLUMN_TYPE_TIMESTAMP: "TIMESTAMPTZ",
		messages.ColumnType_COLUMN_TYPE_BYTES:     "BYTEA",
		messages.ColumnType_COLUMN_TYPE_NUMERIC:   "NUMERIC",
		messages.ColumnType_COLUMN_TYPE_JSON:      "JSONB",
		messages.ColumnType_COLUMN_TYPE_UUID:      "UUID",
		messages.ColumnType_COLUMN_TYPE_DATE:      "DATE",
	}
	sqliteTypes = map[messages.ColumnType]string{
		messages.ColumnType_COLUMN_TYPE_BIGINT:    "INTEGER",
		messages.ColumnType_COLUMN_TYPE_INTEGER:   "INTEGER",
		messages.ColumnType_COLUMN_TYPE_SMALLINT:  "INTEGER",
		messages.ColumnType_COLUMN_TYPE_TEXT:      "TEXT",
		messages.ColumnType_COLUMN_TYPE_BOOLEAN:   "BOOLEAN",
		messages.ColumnType_COLUMN_TYPE_DOUBLE:    "REAL",
		messages.ColumnType_COLUMN_TYPE_REAL:      "REAL",
		messages.ColumnType_COLUMN_TYPE_TIMESTAMP: "DATETIME",
		messages.ColumnType_COLUMN_TYPE_BYTES:     "BLOB",
		messages.ColumnType_COLUMN_TYPE_NUMERIC:   "NUMERIC",
		messages.ColumnType_COLUMN_TYPE_JSON:      "TEXT",
		messages.ColumnType_COLUMN_TYPE_UUID:      "TEXT",
		messages.ColumnType_COLUMN_TYPE_DATE:      "DATE",
	}
)

// maxVarchar is PostgreSQL's limit for VARCHAR(n).
const maxVarchar = 10485760

// knownType reports whether t is a column type this package can render.
// (A switch, not a lookup in postgresTypes: it runs for every column of
// every registration; TestKnownTypes keeps the two alike.)
func knownType(t messages.ColumnType) bool {
	switch t {
	case messages.ColumnType_COLUMN_TYPE_BIGINT, messages.ColumnType_COLUMN_TYPE_INTEGER,
		messages.ColumnType_COLUMN_TYPE_SMALLINT, messages.ColumnType_COLUMN_TYPE_TEXT,
		messages.ColumnType_COLUMN_TYPE_BOOLEAN, messages.ColumnType_COLUMN_TYPE_DOUBLE,
		messages.ColumnType_COLUMN_TYPE_REAL, messages.ColumnType_COLUMN_TYPE_TIMESTAMP,
		messages.ColumnType_COLUMN_TYPE_BYTES, messages.ColumnType_COLUMN_TYPE_NUMERIC,
		messages.ColumnType_COLUMN_TYPE_JSON, messages.ColumnType_COLUMN_TYPE_UUID,
		messages.ColumnType_COLUMN_TYPE_DATE:
		return true
	}
	return false
}

// isInteger reports whether t is one of the integer column types.
func isInteger(t messages.ColumnType) bool {
	switch t {
	case messages.ColumnType_COLUMN_TYPE_BIGINT, messages.ColumnType_COLUMN_TYPE_INTEGER,
		messages.ColumnType_COLUMN_TYPE_SMALLINT:
		return true
	}
	return false
}

// sqlType is the dialect's type of column c ("" for an unknown dialect).
func sqlType(d dsn.Dialect, c *messages.ColumnDef) string {
	switch d {
	case dsn.Postgres:
		if c.GetType() == messages.ColumnType_COLUMN_TYPE_TEXT && c.GetMaxLength() > 0 {
			return fmt.Sprintf("VARCHAR(%d)", c.GetMaxLength())
		}
		return postgresTypes[c.GetType()]
	case dsn.SQLite:
		return sqliteTypes[c.GetType()]
	}
	return ""
}

var (
	timeType       = reflect.TypeFor[time.Time]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
)

// goColumnType maps a Go field type to a column type and whether the Go
// type can hold NULL (a pointer, sql.NullX, sql.Null[T]). For an unsupported
// type, reason says why (and ct is COLUMN_TYPE_UNSPECIFIED).
func goColumnType(t reflect.Type) (ct messages.ColumnType, nullable bool, reason string) {
	if t.Kind() == reflect.Pointer {
		if t.Elem().Kind() == reflect.Pointer {
			return 0, true, "a pointer to a pointer is not supported"
		}
		ct, _, reason = goColumnType(t.Elem())
		return ct, true, reason
	}
	if base, ok := sqlNullBase(t); ok {
		ct, _, reason = goColumnType(base)
		return ct, true, reason
	}
	switch t {
	case timeType:
		return messages.ColumnType_COLUMN_TYPE_TIMESTAMP, false, ""
	case rawMessageType:
		return messages.ColumnType_COLUMN_TYPE_JSON, false, ""
	}
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Uint8:
		return messages.ColumnType_COLUMN_TYPE_SMALLINT, false, ""
	case reflect.Int32, reflect.Uint16:
		return messages.ColumnType_COLUMN_TYPE_INTEGER, false, ""
	case reflect.Int, reflect.Int64, reflect.Uint32:
		return messages.ColumnType_COLUMN_TYPE_BIGINT, false, ""
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return 0, false, "unsigned 64-bit values do not fit BIGINT: use int64, or type=numeric with a type that scans it"
	case reflect.String:
		return messages.ColumnType_COLUMN_TYPE_TEXT, false, ""
	case reflect.Bool:
		return messages.ColumnType_COLUMN_TYPE_BOOLEAN, false, ""
	case reflect.Float64:
		return messages.ColumnType_COLUMN_TYPE_DOUBLE, false, ""
	case reflect.Float32:
		return messages.ColumnType_COLUMN_TYPE_REAL, false, ""
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return messages.ColumnType_COLUMN_TYPE_BYTES, false, ""
		}
	}
	return 0, false, "unsupported Go type: give the column type with type="
}

// sqlNullBase recognises database/sql's NullString, NullInt64, …, NullTime
// and the generic Null[T]: a struct of the value and Valid bool. It returns
// the value's type.
func sqlNullBase(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct || t.PkgPath() != "database/sql" || !strings.HasPrefix(t.Name(), "Null") ||
		t.NumField() != 2 || t.Field(1).Name != "Valid" || t.Field(1).Type.Kind() != reflect.Bool {
		return nil, false
	}
	return t.Field(0).Type, true
}
