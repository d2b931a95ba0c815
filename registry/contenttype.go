package registry

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// ContentTypeModel and ContentTypeTable name the content-type model of a
// registry with Config.WithContentType (Edgy's "ContentType", "contenttypes").
const (
	ContentTypeModel  = "ContentType"
	ContentTypeTable  = "contenttypes"
	ContentTypeColumn = "content_type"
)

// contentTypeDef is Edgy's ContentType: an auto id, name, schema_name and a
// unique collision_key.
func contentTypeDef() *messages.ModelDef {
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

// setContentType registers the ContentType model, then — exactly as Edgy
// does — a persistent callback for every model that adds the content_type
// reference to each of them.
func (b *book) setContentType() error {
	reg, _, err := b.register(contentTypeDef(), messages.OnConflict_ON_CONFLICT_ERROR)
	if err != nil {
		return err
	}
	ct := reg.Entry.Model
	b.contentType = ct
	b.subscribe("", new(false), callbackTarget{run: func(m *models.Model) { injectContentType(ct, m) }})
	return nil
}

// injectContentType adds the content_type column to m unless m opted out,
// is the content type itself, or already has a content_type column or a
// reference to the content types. The foreign key (ON DELETE CASCADE) is
// only added where the reference resolves: a table's references point into
// its own schema of its own database (SQLite cannot reference another
// attached file), so a model bound to another database or another schema
// than the content types gets the column without the constraint (Edgy's
// cross-database reference has no constraint either).
func injectContentType(ct, m *models.Model) {
	if m == ct || m.NoContentType() || hasColumn(m, ContentTypeColumn) {
		return
	}
	for _, c := range m.Columns() {
		if c.GetReferencesTable() == ct.Table() {
			return
		}
	}
	col := &messages.ColumnDef{
		Name: ContentTypeColumn, Type: messages.ColumnType_COLUMN_TYPE_BIGINT,
		Unique: true, Injected: true,
	}
	if m.Database() == ct.Database() && m.Schema() == ct.Schema() {
		col.ReferencesTable, col.ReferencesColumn, col.OnDelete = ct.Table(), "id", "CASCADE"
	}
	_ = m.AddColumn(col) // valid by construction: the name is free
}

// ContentTypeRow is one row of the contenttypes table.
type ContentTypeRow struct {
	ID           int64
	Name         string
	SchemaName   sql.NullString
	CollisionKey sql.NullString
}

// NewContentType inserts a content-type row for an object of model (Edgy's
// default for a new object's content_type: name = the model's name,
// schema_name = the schema the object is written to) in the contenttypes
// table of schema ("" : the registry schema, Config.Schema), and returns its id: the value for the
// object's content_type column. collisionKey, when not "", must be unique.
// q runs on the main database (Database().DB(), or a transaction on it).
func (r *Registry) NewContentType(ctx context.Context, q Querier, schema, model, collisionKey string) (int64, error) {
	ct := r.ContentType()
	if ct == nil {
		return 0, fmt.Errorf("%w: the registry has no content types (Config.WithContentType)", ErrUnknownModel)
	}
	if err := checkQuerier("NewContentType", q); err != nil {
		return 0, err
	}
	if schema == "" {
		schema = r.Schema()
	}
	table, err := ct.QualifiedTable(schema)
	if err != nil {
		return 0, err
	}
	d := r.main.Dialect()
	var key, sch any
	if collisionKey != "" {
		key = collisionKey
	}
	if schema != "" {
		sch = schema
	}
	query := "INSERT INTO " + table + " (name, schema_name, collision_key) VALUES (" +
		placeholders(dsn.Dialect(d), 3) + ") RETURNING id"
	var id int64
	if err := q.QueryRowContext(ctx, query, model, sch, key).Scan(&id); err != nil {
		return 0, fmt.Errorf("dbactor: new content type for %q: %w", model, err)
	}
	return id, nil
}

// ContentTypeByID reads the content-type row id from the contenttypes table
// of schema: which model (and schema) an object with that content_type
// belongs to. A missing row matches sql.ErrNoRows.
func (r *Registry) ContentTypeByID(ctx context.Context, q Querier, schema string, id int64) (ContentTypeRow, error) {
	ct := r.ContentType()
	if ct == nil {
		return ContentTypeRow{}, fmt.Errorf("%w: the registry has no content types (Config.WithContentType)", ErrUnknownModel)
	}
	if err := checkQuerier("ContentTypeByID", q); err != nil {
		return ContentTypeRow{}, err
	}
	if schema == "" {
		schema = r.Schema()
	}
	table, err := ct.QualifiedTable(schema)
	if err != nil {
		return ContentTypeRow{}, err
	}
	query := "SELECT id, name, schema_name, collision_key FROM " + table + " WHERE id = " + placeholders(dsn.Dialect(r.main.Dialect()), 1)
	var row ContentTypeRow
	if err := q.QueryRowContext(ctx, query, id).Scan(&row.ID, &row.Name, &row.SchemaName, &row.CollisionKey); err != nil {
		return row, fmt.Errorf("dbactor: content type %d: %w", id, err)
	}
	return row, nil
}

// checkQuerier refuses a nil Querier, and a typed nil one such as the
// *sql.DB that Database.DB returns while the database is not connected:
// calling it would panic.
func checkQuerier(op string, q Querier) error {
	if q == nil {
		return fmt.Errorf("%w: %s: nil Querier", ErrInvalidArgument, op)
	}
	if v := reflect.ValueOf(q); v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Errorf("%w: %s: nil %T (is the database connected?)", ErrInvalidArgument, op, q)
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

func hasColumn(m *models.Model, name string) bool {
	_, ok := m.Column(name)
	return ok
}
