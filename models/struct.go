package models

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/dbactor/dbactor/messages"
)

// Option configures [FromStruct] and [Registration]: Name, Table, Schema,
// Database and NoContentType shape the definition derived from a Go struct;
// KeepExisting and ReplaceExisting say what a registration does when the
// name is taken.
type Option func(*options)

type options struct {
	name, table, schema, database string
	noContentType                 bool
	// definition is set by the options that shape a struct's definition
	// (a *Model has its definition already).
	definition bool
	onConflict messages.OnConflict
}

// Name sets the model's name (default: the Go type's name).
func Name(name string) Option { return func(o *options) { o.name = name; o.definition = true } }

// Table sets the table's name (default: [DefaultTable] of the model name).
func Table(table string) Option { return func(o *options) { o.table = table; o.definition = true } }

// Schema binds the model to a schema (default "": the registry's schema, or
// the database's default).
func Schema(schema string) Option { return func(o *options) { o.schema = schema; o.definition = true } }

// Database binds the model to an extra database, by its name in the
// registry's configuration (default "": the main database).
func Database(name string) Option { return func(o *options) { o.database = name; o.definition = true } }

// NoContentType opts the model out of the content_type reference that a
// registry with content types adds to every model.
func NoContentType() Option { return func(o *options) { o.noContentType = true; o.definition = true } }

// DefaultTable is Edgy's default table name of a model: the name in lower
// case plus "s" ("User" → "users").
func DefaultTable(model string) string { return strings.ToLower(model) + "s" }

// FromStruct derives a model definition from a Go struct. v is a struct
// value, a pointer to a struct (it may be nil), or the reflect.Type of
// either. The result has passed the same validation as [New]; every problem
// is reported at once (errors.Join of *[FieldError] and *[DefinitionError],
// all matching messages.ErrInvalidModel), and the definition is nil then.
//
// Columns come from the exported fields in declaration order, with the tag
// grammar of the package documentation. Go types map to column types as
// follows; a pointer *T, sql.NullString, NullInt64, NullInt32, NullInt16,
// NullByte, NullBool, NullFloat64, NullTime and sql.Null[T] make the column
// of T nullable, every other column is NOT NULL unless tagged null. Named
// types map by their underlying kind (type Status string is TEXT).
//
//	int8, int16, uint8         SMALLINT
//	int32, uint16              INTEGER
//	int, int64, uint32         BIGINT
//	string                     TEXT (size=N: VARCHAR(N) on PostgreSQL)
//	bool                       BOOLEAN
//	float64                    DOUBLE
//	float32                    REAL
//	time.Time                  TIMESTAMP
//	[]byte                     BYTES
//	json.RawMessage            JSON
//
// uint, uint64 and uintptr do not fit BIGINT; maps, other slices, arrays,
// channels, functions, interfaces and other structs are unsupported. Both
// are errors unless type= names the column type, which is then trusted.
//
// The primary key is the set of fields tagged pk or, without any, the
// column named "id" (compared ignoring ASCII case); a primary key column is
// never nullable, and tagging one null is an error. A single integer
// primary key is auto-increment unless tagged noauto.
//
// ColumnDef.Field records the Go field: its name, or a dotted path through
// flattened embedded structs ("Base.ID"), usable with
// reflect.Value.FieldByIndex via [FieldIndex]. The table defaults to
// [DefaultTable] of the name.
func FromStruct(v any, opts ...Option) (*messages.ModelDef, error) {
	t, err := structType(v)
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	name := o.name
	if name == "" {
		name = t.Name()
	}
	if name == "" {
		return nil, &DefinitionError{Reason: "an anonymous struct type needs a model name: pass models.Name"}
	}
	table := o.table
	if table == "" {
		table = DefaultTable(name)
	}
	def := &messages.ModelDef{
		Name:          name,
		Table:         table,
		Schema:        o.schema,
		Database:      o.database,
		NoContentType: o.noContentType,
	}

	p := &structParser{structName: t.String()}
	p.walk(t, "", map[reflect.Type]bool{t: true})

	var tagged []*parsedField
	for _, f := range p.fields {
		def.Columns = append(def.Columns, f.col)
		if f.pk {
			tagged = append(tagged, f)
		}
	}
	if len(tagged) == 0 {
		for _, f := range p.fields {
			if foldASCII(f.col.GetName()) == "id" {
				tagged = append(tagged, f)
				break
			}
		}
	}
	for _, f := range tagged {
		f.col.PrimaryKey = true
		f.col.Nullable = false
	}
	if len(tagged) == 1 && isInteger(tagged[0].col.GetType()) && !tagged[0].noauto {
		tagged[0].col.AutoIncrement = true
	}

	// With a field left out, "no columns" or "no primary key" may be wrong:
	// those whole-model checks wait until the fields are right.
	errs := p.errs
	errs = append(errs, validateDef(def, len(p.errs) == 0)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return def, nil
}

// FieldIndex resolves a ColumnDef.Field path made by [FromStruct] in struct
// type t to the index sequence for reflect.Value.FieldByIndex. ok is false
// when t has no such field.
func FieldIndex(t reflect.Type, field string) (index []int, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for part := range strings.SplitSeq(field, ".") {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		f, found := t.FieldByName(part)
		if !found || len(f.Index) != 1 {
			return nil, false
		}
		index = append(index, f.Index[0])
		t = f.Type
	}
	return index, len(index) > 0
}

// structType returns the struct type v stands for.
func structType(v any) (reflect.Type, error) {
	var t reflect.Type
	switch x := v.(type) {
	case nil:
		return nil, &DefinitionError{Reason: "FromStruct needs a struct, a pointer to a struct or its reflect.Type, not nil"}
	case reflect.Type:
		t = x
	default:
		t = reflect.TypeOf(v)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, &DefinitionError{Reason: fmt.Sprintf("FromStruct needs a struct, a pointer to a struct or its reflect.Type, not %s", t)}
	}
	return t, nil
}

// parsedField is one column found by structParser, with the tag options
// that only matter once the primary key is known.
type parsedField struct {
	col    *messages.ColumnDef
	pk     bool
	noauto bool
}

// structParser walks a struct type and collects columns and field errors.
type structParser struct {
	structName string
	fields     []*parsedField
	errs       []error
}

func (p *structParser) fail(path string, t reflect.Type, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{
		Struct: p.structName,
		Field:  path,
		GoType: t.String(),
		Reason: fmt.Sprintf(format, args...),
	})
}

// walk collects the columns of struct type t; prefix is the dotted path of
// the embedded fields that lead to t, and active the struct types being
// walked (to refuse recursive embedding).
func (p *structParser) walk(t reflect.Type, prefix string, active map[reflect.Type]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		path := prefix + f.Name
		tag, hasTag := f.Tag.Lookup("db")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")

		if f.Anonymous && name == "" {
			et := f.Type
			isPtr := et.Kind() == reflect.Pointer
			if isPtr {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && !isColumnStruct(et) {
				if isPtr && !f.IsExported() {
					continue // like encoding/json: cannot be allocated through reflection
				}
				if strings.TrimSpace(opts) != "" {
					p.fail(path, f.Type, "tag options on an embedded struct, which is flattened: name the column in the tag to make the field one column")
					continue
				}
				if active[et] {
					p.fail(path, f.Type, "struct embeds itself")
					continue
				}
				active[et] = true
				p.walk(et, path+".", active)
				delete(active, et)
				continue
			}
		}
		if !f.IsExported() {
			if hasTag {
				p.fail(path, f.Type, "unexported field with a db tag: export it or tag it db:\"-\"")
			}
			continue
		}
		if col := p.column(f, path, name, opts); col != nil {
			p.fields = append(p.fields, col)
		}
	}
}

// isColumnStruct reports whether struct type t maps to one column
// (time.Time, sql.NullX, sql.Null[T]) rather than being flattened.
func isColumnStruct(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	_, ok := sqlNullBase(t)
	return ok
}

// column parses one field into a column; nil after a field error.
func (p *structParser) column(f reflect.StructField, path, name, opts string) *parsedField {
	if name == "" {
		name = snakeCase(f.Name)
	}
	pf := &parsedField{col: &messages.ColumnDef{Name: name, Field: path}}
	col := pf.col
	ct, goNullable, reason := goColumnType(f.Type)

	var (
		null, notnull, auto bool
		override            messages.ColumnType
		seen                = map[string]bool{}
		ok                  = true
	)
	bad := func(format string, args ...any) {
		p.fail(path, f.Type, format, args...)
		ok = false
	}
	for opts != "" {
		var tok string
		if k, _, _ := strings.Cut(strings.TrimLeft(opts, " "), "="); strings.TrimSpace(k) == "default" {
			tok, opts = opts, "" // default= takes the rest of the tag, commas included
		} else {
			tok, opts, _ = strings.Cut(opts, ",")
		}
		key, val, hasVal := strings.Cut(tok, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if key != "default" {
			val = strings.TrimSpace(val)
		}
		if key == "" {
			bad("empty tag option in %q", f.Tag.Get("db"))
			continue
		}
		if seen[key] {
			bad("tag option %q given twice", key)
			continue
		}
		seen[key] = true
		switch key {
		case "pk", "null", "notnull", "unique", "index", "auto", "noauto":
			if hasVal {
				bad("tag option %q takes no value", key)
				continue
			}
			switch key {
			case "pk":
				pf.pk = true
			case "null":
				null = true
			case "notnull":
				notnull = true
			case "unique":
				col.Unique = true
			case "index":
				col.Index = true
			case "auto":
				auto = true
			case "noauto":
				pf.noauto = true
			}
		case "size":
			n, err := strconv.ParseInt(val, 10, 32)
			if err != nil || n <= 0 {
				bad("size=%q: want a positive integer", val)
				continue
			}
			col.MaxLength = int32(n)
		case "type":
			t, known := typeNames[strings.ToLower(val)]
			if !known {
				bad("type=%q: want one of bigint, integer, smallint, text, boolean, double, real, timestamp, bytes, numeric, json, uuid, date", val)
				continue
			}
			override = t
		case "default":
			if strings.TrimSpace(val) == "" {
				bad("default= needs an SQL expression")
				continue
			}
			col.DefaultSql = val
		case "references":
			i := strings.LastIndexByte(val, '.')
			if i <= 0 || i == len(val)-1 {
				bad("references=%q: want table.column", val)
				continue
			}
			col.ReferencesTable, col.ReferencesColumn = val[:i], val[i+1:]
		case "ondelete":
			action, known := onDeleteAction(val)
			if !known {
				bad("ondelete=%q: want cascade, set null, restrict or no action", val)
				continue
			}
			col.OnDelete = action
		default:
			bad("unknown tag option %q", key)
		}
	}
	switch {
	case null && notnull:
		bad("tagged both null and notnull")
	case null && pf.pk:
		bad("a primary key cannot be null")
	}
	if auto && pf.noauto {
		bad("tagged both auto and noauto")
	}
	if override != messages.ColumnType_COLUMN_TYPE_UNSPECIFIED {
		ct = override
	} else if reason != "" {
		bad("%s", reason)
	}
	if !ok {
		return nil
	}
	col.Type = ct
	col.Nullable = (goNullable || null) && !notnull
	col.AutoIncrement = auto // checked by validateDef: a single integer primary key
	return pf
}

// onDeleteAction normalises an ondelete= value ("set_null", "Set Null") to
// the form ColumnDef.on_delete uses ("SET NULL").
func onDeleteAction(s string) (string, bool) {
	a := strings.Join(strings.Fields(strings.ToUpper(strings.ReplaceAll(s, "_", " "))), " ")
	return a, validOnDelete(a) && a != ""
}

// snakeCase is the default column name of a Go field: ID→id, UserID→user_id,
// HTTPServer→http_server, CreatedAt→created_at, Field2Name→field2_name.
func snakeCase(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					b.WriteByte('_')
				}
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
