// Package models defines database models in Go: a table, its columns and
// how each dialect spells them. It is the Go side of Edgy's model classes,
// reduced to what the registry needs (create and drop tables, register
// models, inject the content-type reference).
//
// # Definitions
//
// A model's transportable definition is a [messages.ModelDef] (protobuf, so it
// crosses Proto.Actor remote). Write one by hand, or derive it from a Go
// struct with [FromStruct]:
//
//	type User struct {
//		ID        int64                             // "id", the primary key, auto-increment
//		Email     string    `db:"email,unique,size=255"`
//		OrgID     int64     `db:"org_id,references=orgs.id,ondelete=cascade,index"`
//		Nickname  *string                           // nullable TEXT
//		CreatedAt time.Time `db:",default=CURRENT_TIMESTAMP"`
//		Cache     []string  `db:"-"`
//	}
//	def, err := models.FromStruct(User{}, models.Schema("tenant_a"))
//	m, err := models.New(def)
//
// # Struct tags
//
// The tag is db:"name,option,option…". An empty name means the default
// column name, the snake_case of the field name (ID→id, UserID→user_id,
// HTTPServer→http_server). db:"-" skips the field (db:"-," names a column
// "-"). Unexported fields are skipped. An anonymous (embedded) struct field
// without a tag name is flattened: its fields become the model's columns, as
// in encoding/json; one with a tag name is an ordinary column named so (and,
// being a struct, needs type=). Options:
//
//	pk                  part of the primary key
//	null / notnull      force the column nullable / NOT NULL
//	unique              UNIQUE
//	index               CREATE INDEX on the column
//	auto / noauto       force / prevent auto-increment (integer primary key)
//	size=N              TEXT max length: VARCHAR(N) on PostgreSQL
//	type=T              column type override: bigint, integer, smallint,
//	                    text, boolean, double, real, timestamp, bytes,
//	                    numeric, json, uuid, date
//	references=T.C      foreign key to column C of table T (same schema);
//	                    split at the last '.'
//	ondelete=A          cascade, set null, restrict, no action
//	default=EXPR        SQL default expression, trusted and rendered as
//	                    written; must be the last option, so that EXPR may
//	                    contain commas (inside parentheses or quotes: it
//	                    must be one expression, so no ';', comment, '$',
//	                    backslash or top-level ',')
//
// Without a pk option the column named "id" is the primary key; a model
// without either is invalid. A single integer primary key is auto-increment
// unless tagged noauto. See [FromStruct] for the Go type map.
//
// # Models and lazy metadata
//
// [New] validates a definition, reporting every problem at once, and returns
// a [Model], safe for concurrent use. Like Edgy's meta, a Model computes its
// table metadata (the dialect's column definitions, constraints and index
// names, for PostgreSQL and SQLite) only when a DDL method first needs it,
// and caches it until [Model.Invalidate] or [Model.AddColumn] drops it;
// [Model.Inits] counts the computations. This is Edgy's
// init_models/invalidate_models.
//
// # DDL
//
// [Model.CreateTableSQL] and [Model.DropTableSQL] render statements for a
// dialect and an effective schema that the caller chooses (the model's own
// [Model.Schema], the registry schema, a tenant…); every identifier is
// validated with internal/ident and quoted, never interpolated. Foreign keys
// live in the same schema as the table that declares them, so tables are
// created in [SortByDependencies] order and dropped in the reverse order.
//
// # Registration
//
// [Registration] builds the request that registers a model (what the
// registry's RegisterModel sends): from a Go struct, shaped by [Name],
// [Table], [Schema], [Database] and [NoContentType], or from a *[Model]
// taken as it is; [KeepExisting] and [ReplaceExisting] are Edgy's
// on_conflict.
//
// # Content types
//
// [ContentTypeDef] is Edgy's ContentType model (table [ContentTypeTable]);
// a registry with content types gives every other model a
// [ContentTypeColumn] referencing it. [NewContentType] inserts a row for a
// new object and [ContentTypeByID] reads one back, on any [RowQuerier]
// (*sql.DB, *sql.Conn, *sql.Tx) in a schema the caller chooses.
package models
