package introspect

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/atlasx"
	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// Querier runs SQL: *sql.DB, *sql.Conn and *sql.Tx all are one.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Option configures Table and Def.
type Option func(*options)

type options struct {
	name string
	bind bool
	skip bool
}

// Name sets the model's name (default: the table's name).
func Name(name string) Option { return func(o *options) { o.name = name } }

// Bind binds the model to the schema it was read from (models.Schema), so
// the registry creates and addresses it there. By default the model is
// unbound: it follows the registry's schema, or a tenant's.
func Bind() Option { return func(o *options) { o.bind = true } }

// SkipUnsupported leaves out what a model cannot express (see the package
// documentation) instead of failing with an *UnsupportedError.
func SkipUnsupported() Option { return func(o *options) { o.skip = true } }

// Table reads table from schema ("" the database's default schema) of db
// into a model. db is connected for the read (with the ref count) and left
// as found. Errors: ErrNotFound, *TypeError, *UnsupportedError, and those of
// models.New (matching models.ErrInvalidModel).
func Table(ctx context.Context, db *registry.Database, schemaName, table string, opts ...Option) (m *models.Model, err error) {
	if _, err := db.Connect(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if _, derr := db.Disconnect(context.WithoutCancel(ctx)); derr != nil && err == nil {
			m, err = nil, derr
		}
	}()
	q := db.DB()
	if q == nil {
		return nil, ErrNotConnected
	}
	def, err := Def(ctx, q, db.Dialect(), schemaName, table, opts...)
	if err != nil {
		return nil, err
	}
	return models.New(def)
}

// Def reads table from schema ("" the default schema) through q, of dialect
// d, into a model definition that models.New accepts.
func Def(ctx context.Context, q Querier, d client.Dialect, schemaName, table string, opts ...Option) (*messages.ModelDef, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	dialect := dsn.Dialect(d)
	if dialect != dsn.Postgres && dialect != dsn.SQLite {
		return nil, fmt.Errorf("%w: dialect %q", ErrUnsupported, d)
	}
	name := schemaName
	if name == "" {
		var err error
		if name, err = atlasx.DefaultSchema(ctx, q, dialect); err != nil {
			return nil, err
		}
	}
	s, exists, err := atlasx.Live(ctx, q, dialect, name, []string{table})
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("%w: schema %q does not exist", ErrNotFound, name)
	}
	t, ok := s.Table(table)
	if !ok {
		return nil, fmt.Errorf("%w: %q in schema %q", ErrNotFound, table, name)
	}
	def, unsupported, err := convert(dialect, t)
	if err != nil {
		return nil, err
	}
	if len(unsupported) > 0 && !o.skip {
		return nil, &UnsupportedError{Table: t.Name, Features: unsupported}
	}
	def.Name = t.Name
	if o.name != "" {
		def.Name = o.name
	}
	if o.bind && schemaName != "" {
		def.Schema = schemaName
	}
	// A reflected table has the columns it has: no content_type added.
	def.NoContentType = true
	return def, nil
}

// convert maps an inspected table to a definition, and lists what it
// cannot express.
func convert(d dsn.Dialect, t *schema.Table) (*messages.ModelDef, []string, error) {
	def := &messages.ModelDef{Table: t.Name}
	var unsupported []string
	byName := map[string]*messages.ColumnDef{}
	pk := map[string]bool{}
	if t.PrimaryKey != nil {
		for _, p := range t.PrimaryKey.Parts {
			if p.C != nil {
				pk[p.C.Name] = true
			}
		}
	}
	for _, c := range t.Columns {
		ct, size, err := columnType(d, c)
		if err != nil {
			return nil, nil, &TypeError{Table: t.Name, Column: c.Name, Type: rawType(c)}
		}
		cd := &messages.ColumnDef{
			Name:       c.Name,
			Type:       ct,
			MaxLength:  size,
			PrimaryKey: pk[c.Name],
			Nullable:   c.Type.Null && !pk[c.Name],
		}
		switch x := c.Default.(type) {
		case *schema.RawExpr:
			cd.DefaultSql = x.X
		case *schema.Literal:
			cd.DefaultSql = x.V
		}
		cd.DefaultSql = unwrap(cd.DefaultSql)
		if autoIncrement(d, t, c) {
			cd.AutoIncrement = true
			cd.DefaultSql = ""
		}
		byName[c.Name] = cd
		def.Columns = append(def.Columns, cd)
	}
	for _, idx := range t.Indexes {
		what := "index"
		if idx.Unique {
			what = "unique index"
		}
		if len(idx.Parts) != 1 || idx.Parts[0].C == nil {
			unsupported = append(unsupported, fmt.Sprintf("%s %q on several columns or an expression", what, idx.Name))
			continue
		}
		if hasPredicate(idx) {
			unsupported = append(unsupported, fmt.Sprintf("partial %s %q", what, idx.Name))
			continue
		}
		cd := byName[idx.Parts[0].C.Name]
		if idx.Unique {
			cd.Unique = true
		} else {
			cd.Index = true
		}
	}
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) != 1 || len(fk.RefColumns) != 1 {
			unsupported = append(unsupported, fmt.Sprintf("foreign key %q on several columns", fk.Symbol))
			continue
		}
		if fk.RefTable.Schema != nil && t.Schema != nil && fk.RefTable.Schema.Name != "" && fk.RefTable.Schema.Name != t.Schema.Name {
			unsupported = append(unsupported, fmt.Sprintf("foreign key %q to another schema (%q)", fk.Symbol, fk.RefTable.Schema.Name))
			continue
		}
		onDelete := strings.ToUpper(string(fk.OnDelete))
		switch onDelete {
		case "", "NO ACTION":
			onDelete = ""
		case "CASCADE", "SET NULL", "RESTRICT":
		default:
			unsupported = append(unsupported, fmt.Sprintf("foreign key %q ON DELETE %s", fk.Symbol, onDelete))
			continue
		}
		cd := byName[fk.Columns[0].Name]
		cd.ReferencesTable = fk.RefTable.Name
		cd.ReferencesColumn = fk.RefColumns[0].Name
		cd.OnDelete = onDelete
	}
	return def, unsupported, nil
}

// unwrap removes one pair of parentheses around a whole default expression
// (SQLite keeps the "(…)" that CreateTableSQL writes); the model adds them
// back.
func unwrap(x string) string {
	x = strings.TrimSpace(x)
	for len(x) >= 2 && x[0] == '(' && x[len(x)-1] == ')' && balanced(x[1:len(x)-1]) {
		x = strings.TrimSpace(x[1 : len(x)-1])
	}
	return x
}

// balanced reports whether the parentheses of x outside quotes balance
// without going below zero.
func balanced(x string) bool {
	depth := 0
	var quote byte
	for i := 0; i < len(x); i++ {
		ch := x[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '(':
			depth++
		case ch == ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0 && quote == 0
}

func hasPredicate(idx *schema.Index) bool {
	for _, a := range idx.Attrs {
		switch a.(type) {
		case *postgres.IndexPredicate, *sqlite.IndexPredicate:
			return true
		}
	}
	return false
}

func rawType(c *schema.Column) string {
	if c.Type.Raw != "" {
		return c.Type.Raw
	}
	return fmt.Sprintf("%T", c.Type.Type)
}

// autoIncrement: an identity or serial column on PostgreSQL; the rowid
// alias (a single primary key declared exactly INTEGER) on SQLite.
func autoIncrement(d dsn.Dialect, t *schema.Table, c *schema.Column) bool {
	single := t.PrimaryKey != nil && len(t.PrimaryKey.Parts) == 1 && t.PrimaryKey.Parts[0].C != nil && t.PrimaryKey.Parts[0].C.Name == c.Name
	switch d {
	case dsn.Postgres:
		if _, ok := c.Type.Type.(*postgres.SerialType); ok {
			return single
		}
		for _, a := range c.Attrs {
			if _, ok := a.(*postgres.Identity); ok {
				return single
			}
		}
		if x, ok := c.Default.(*schema.RawExpr); ok && strings.HasPrefix(x.X, "nextval(") {
			return single
		}
	case dsn.SQLite:
		return single && strings.EqualFold(strings.TrimSpace(c.Type.Raw), "INTEGER")
	}
	return false
}

var sizeRe = regexp.MustCompile(`^\s*([A-Za-z ]+?)\s*(?:\(\s*(\d+)\s*(?:,\s*\d+\s*)?\))?\s*$`)

// columnType maps a column's type to dbactor's vocabulary, with its
// VARCHAR size.
func columnType(d dsn.Dialect, c *schema.Column) (messages.ColumnType, int32, error) {
	unknown := fmt.Errorf("unknown type")
	if d == dsn.SQLite {
		m := sizeRe.FindStringSubmatch(c.Type.Raw)
		if m == nil {
			return 0, 0, unknown
		}
		base := strings.ToUpper(strings.Join(strings.Fields(m[1]), " "))
		var size int32
		if m[2] != "" {
			n, err := strconv.ParseInt(m[2], 10, 32)
			if err != nil {
				return 0, 0, unknown
			}
			size = int32(n)
		}
		switch base {
		case "INTEGER", "INT", "BIGINT", "INT8", "UNSIGNED BIG INT":
			return messages.ColumnType_COLUMN_TYPE_BIGINT, 0, nil
		case "MEDIUMINT", "INT4":
			return messages.ColumnType_COLUMN_TYPE_INTEGER, 0, nil
		case "SMALLINT", "TINYINT", "INT2":
			return messages.ColumnType_COLUMN_TYPE_SMALLINT, 0, nil
		case "TEXT", "CLOB":
			return messages.ColumnType_COLUMN_TYPE_TEXT, 0, nil
		case "VARCHAR", "CHARACTER VARYING", "VARYING CHARACTER", "NVARCHAR", "NATIVE CHARACTER":
			return messages.ColumnType_COLUMN_TYPE_TEXT, size, nil
		case "BOOLEAN", "BOOL":
			return messages.ColumnType_COLUMN_TYPE_BOOLEAN, 0, nil
		case "REAL", "DOUBLE", "DOUBLE PRECISION", "FLOAT":
			return messages.ColumnType_COLUMN_TYPE_DOUBLE, 0, nil
		case "DATETIME", "TIMESTAMP":
			return messages.ColumnType_COLUMN_TYPE_TIMESTAMP, 0, nil
		case "DATE":
			return messages.ColumnType_COLUMN_TYPE_DATE, 0, nil
		case "BLOB":
			return messages.ColumnType_COLUMN_TYPE_BYTES, 0, nil
		case "NUMERIC", "DECIMAL":
			return messages.ColumnType_COLUMN_TYPE_NUMERIC, 0, nil
		case "JSON":
			return messages.ColumnType_COLUMN_TYPE_JSON, 0, nil
		case "UUID":
			return messages.ColumnType_COLUMN_TYPE_UUID, 0, nil
		}
		return 0, 0, unknown
	}
	switch t := c.Type.Type.(type) {
	case *schema.IntegerType:
		return pgInt(t.T)
	case *postgres.SerialType:
		return pgInt(strings.TrimSuffix(t.T, "serial") + "int")
	case *schema.StringType:
		switch t.T {
		case "text":
			return messages.ColumnType_COLUMN_TYPE_TEXT, 0, nil
		case "character varying", "varchar":
			return messages.ColumnType_COLUMN_TYPE_TEXT, int32(t.Size), nil
		}
	case *schema.BoolType:
		return messages.ColumnType_COLUMN_TYPE_BOOLEAN, 0, nil
	case *schema.FloatType:
		switch t.T {
		case "double precision", "float8":
			return messages.ColumnType_COLUMN_TYPE_DOUBLE, 0, nil
		case "real", "float4":
			return messages.ColumnType_COLUMN_TYPE_REAL, 0, nil
		}
	case *schema.TimeType:
		switch t.T {
		case "timestamp with time zone", "timestamp without time zone", "timestamptz", "timestamp":
			return messages.ColumnType_COLUMN_TYPE_TIMESTAMP, 0, nil
		case "date":
			return messages.ColumnType_COLUMN_TYPE_DATE, 0, nil
		}
	case *schema.BinaryType:
		return messages.ColumnType_COLUMN_TYPE_BYTES, 0, nil
	case *schema.DecimalType:
		return messages.ColumnType_COLUMN_TYPE_NUMERIC, 0, nil
	case *schema.JSONType:
		return messages.ColumnType_COLUMN_TYPE_JSON, 0, nil
	case *schema.UUIDType:
		return messages.ColumnType_COLUMN_TYPE_UUID, 0, nil
	}
	return 0, 0, unknown
}

func pgInt(t string) (messages.ColumnType, int32, error) {
	switch t {
	case "bigint", "int8":
		return messages.ColumnType_COLUMN_TYPE_BIGINT, 0, nil
	case "integer", "int", "int4":
		return messages.ColumnType_COLUMN_TYPE_INTEGER, 0, nil
	case "smallint", "int2":
		return messages.ColumnType_COLUMN_TYPE_SMALLINT, 0, nil
	}
	return 0, 0, fmt.Errorf("unknown integer type %q", t)
}
