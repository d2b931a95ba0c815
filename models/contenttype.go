package models

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
)

// ContentTypeModel, ContentTypeTable and ContentTypeColumn name Edgy's
// content types: the model ("ContentType"), its table ("contenttypes") and
// the column that references it from every other model ("content_type").
const (
	ContentTypeModel  = "ContentType"
	ContentTypeTable  = "contenttypes"
	ContentTypeColumn = "content_type"
)

// ContentTypeDef is Edgy's ContentType model: an auto id, name, schema_name
// and a unique collision_key, in table ContentTypeTable. It opts out of
// content types itself.
func ContentTypeDef() *messages.ModelDef {
	text := messages.ColumnType_COLUMN_TYPE_TEXT
	return &messages.ModelDef{
		Name: ContentTypeModel, Table: ContentTypeTable, NoContentType: true,
		Columns: []*messages.ColumnDef{
			{Name: "id", Type: messages.ColumnType_COLUMN_TYPE_BIGINT, PrimaryKey: true, AutoIncrement: true},
			{Name: "name", Type: text, MaxLength: 100, DefaultSql: "''", Index: true},
			{Name: "schema_name", Type: text, MaxLength: 63, Nullable: true, Index: true},
			{Name: "collision_key", Type: text, MaxLength: 255, Nullable: true, Unique: true},
		},
	}
}

// ContentTypeRow is one row of the contenttypes table.
type ContentTypeRow struct {
	ID           int64
	Name         string
	SchemaName   sql.NullString
	CollisionKey sql.NullString
}

// RowQuerier runs a query that returns at most one row: *sql.DB, *sql.Conn
// and *sql.Tx all are one.
type RowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// NewContentType inserts a content-type row for an object of model (Edgy's
// default for a new object's content_type: name = the model's name,
// schema_name = the schema the object is written to) into the table of ct,
// the content-type model (built from [ContentTypeDef]), in schema ("": the
// table unqualified), and returns its id: the value for the object's
// content_type column. collisionKey, when not "", must be unique. q runs on
// dialect d. A nil q (or a typed nil, such as the *sql.DB of a database that
// is not connected) matches messages.ErrInvalidArgument; an invalid schema
// messages.ErrInvalidName. model and collisionKey are values, never SQL.
func NewContentType(ctx context.Context, q RowQuerier, d dsn.Dialect, ct *Model, schema, model, collisionKey string) (int64, error) {
	table, err := contentTypeTable("NewContentType", q, ct, schema)
	if err != nil {
		return 0, err
	}
	var key, sch any
	if collisionKey != "" {
		key = collisionKey
	}
	if schema != "" {
		sch = schema
	}
	query := "INSERT INTO " + table + " (name, schema_name, collision_key) VALUES (" +
		placeholders(d, 3) + ") RETURNING id"
	var id int64
	if err := q.QueryRowContext(ctx, query, model, sch, key).Scan(&id); err != nil {
		return 0, fmt.Errorf("dbactor: new content type for %q: %w", model, err)
	}
	return id, nil
}

// ContentTypeByID reads the content-type row id from the table of ct, the
// content-type model, in schema: which model (and schema) an object with
// that content_type belongs to. A missing row matches sql.ErrNoRows; q and
// schema are checked as by [NewContentType].
func ContentTypeByID(ctx context.Context, q RowQuerier, d dsn.Dialect, ct *Model, schema string, id int64) (ContentTypeRow, error) {
	table, err := contentTypeTable("ContentTypeByID", q, ct, schema)
	if err != nil {
		return ContentTypeRow{}, err
	}
	query := "SELECT id, name, schema_name, collision_key FROM " + table + " WHERE id = " + placeholders(d, 1)
	var row ContentTypeRow
	if err := q.QueryRowContext(ctx, query, id).Scan(&row.ID, &row.Name, &row.SchemaName, &row.CollisionKey); err != nil {
		return row, fmt.Errorf("dbactor: content type %d: %w", id, err)
	}
	return row, nil
}

// contentTypeTable checks the arguments of op and returns ct's table in
// schema, quoted.
func contentTypeTable(op string, q RowQuerier, ct *Model, schema string) (string, error) {
	if ct == nil {
		return "", fmt.Errorf("%w: %s: no content-type model", messages.ErrUnknownModel, op)
	}
	if err := checkQuerier(op, q); err != nil {
		return "", err
	}
	return ct.QualifiedTable(schema)
}

// checkQuerier refuses a nil RowQuerier, and a typed nil one such as the
// *sql.DB that a registry's Database.DB returns while the database is not
// connected: calling it would panic.
func checkQuerier(op string, q RowQuerier) error {
	if q == nil {
		return fmt.Errorf("%w: %s: nil Querier", messages.ErrInvalidArgument, op)
	}
	if v := reflect.ValueOf(q); v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Errorf("%w: %s: nil %T (is the database connected?)", messages.ErrInvalidArgument, op, q)
	}
	return nil
}

// placeholders is "$1, $2, …" for PostgreSQL and "?, ?, …" for SQLite.
func placeholders(d dsn.Dialect, n int) string {
	ps := make([]string, n)
	for i := range ps {
		if d == dsn.Postgres {
			ps[i] = fmt.Sprintf("$%d", i+1)
		} else {
			ps[i] = "?"
		}
	}
	return strings.Join(ps, ", ")
}
