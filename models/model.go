package models

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/messages"
)

// validOnDelete reports whether a ColumnDef may carry od as its ON DELETE
// action.
func validOnDelete(od string) bool {
	switch od {
	case "", "CASCADE", "SET NULL", "RESTRICT", "NO ACTION":
		return true
	}
	return false
}

// Model is a validated model definition plus its lazily computed table
// metadata. It is safe for concurrent use. Build one with [New]; the zero
// value is not usable.
type Model struct {
	// What identifies the model, which no change to it touches: read
	// without the lock (registration reads them on the registry's hot
	// path).
	name, table, schema, database string

	mu   sync.RWMutex
	def  *messages.ModelDef // never changed, nor handed out without cloning
	meta *metadata          // nil until computed; immutable once built

	inits atomic.Int64
}

// adopt makes the Model of a valid definition.
func adopt(def *messages.ModelDef) *Model {
	return &Model{def: def, name: def.GetName(), table: def.GetTable(), schema: def.GetSchema(), database: def.GetDatabase()}
}

// New validates def and returns a Model that keeps a private clone of it,
// so that later changes to def do not affect the Model. An empty Table is
// filled in with [DefaultTable] of the name.
//
// Every problem of the definition is reported at once: errors.Join of one
// *[DefinitionError] per problem, each matching messages.ErrInvalidModel,
// those about names also messages.ErrInvalidName. It checks that the model
// name, the table, the schema (if set), every column name and every
// referenced table and column are valid identifiers (internal/ident); that
// column names are unique ignoring ASCII case (as SQLite compares them);
// that there is a primary key and no nullable or injected primary key
// column; that every column type is known; that auto_increment is only on a
// single integer primary key without a default; that references_table and
// references_column are set together; that on_delete is "", "CASCADE",
// "SET NULL" (on a nullable column), "RESTRICT" or "NO ACTION" and only on a
// foreign key; that max_length is only on TEXT and at most 10485760; and
// that default_sql is one expression that cannot end its column definition
// or the statement (see checkDefaultSQL: no ';', comment, '$', backslash,
// top-level ',' or unbalanced parenthesis or quote).
func New(def *messages.ModelDef) (*Model, error) {
	if def == nil {
		return nil, &DefinitionError{Reason: "nil definition"}
	}
	return Adopt(proto.CloneOf(def))
}

// Adopt is [New] without the clone: the Model keeps def itself, which must
// not change afterwards, as an actor message does not once sent (the
// registry adopts the definition a RegisterModel message carries). The
// Model never changes def either: [Model.AddColumn] replaces it with a
// changed copy, and an empty Table is filled in on a copy.
func Adopt(def *messages.ModelDef) (*Model, error) {
	if def == nil {
		return nil, &DefinitionError{Reason: "nil definition"}
	}
	if def.GetTable() == "" && def.GetName() != "" {
		def = proto.CloneOf(def)
		def.Table = DefaultTable(def.GetName())
	}
	if errs := validateDef(def, true); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return adopt(def), nil
}

// Name is the model's name.
func (m *Model) Name() string { return m.name }

// Table is the table's name (unqualified).
func (m *Model) Table() string { return m.table }

// Schema is the schema the model is bound to; "" means the registry's
// schema or the database's default.
func (m *Model) Schema() string { return m.schema }

// Database is the extra database the model is bound to; "" means the main
// database.
func (m *Model) Database() string { return m.database }

// NoContentType reports whether the model opted out of the content_type
// reference.
func (m *Model) NoContentType() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.def.GetNoContentType()
}

// Def returns a clone of the definition, injected columns included.
func (m *Model) Def() *messages.ModelDef {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return proto.CloneOf(m.def)
}

// Columns returns clones of the columns, in order.
func (m *Model) Columns() []*messages.ColumnDef {
	m.mu.RLock()
	defer m.mu.RUnlock()
	cols := make([]*messages.ColumnDef, len(m.def.GetColumns()))
	for i, c := range m.def.GetColumns() {
		cols[i] = proto.CloneOf(c)
	}
	return cols
}

// Column returns a clone of the column with this name, compared ignoring
// ASCII case as column names are unique that way; ok is false if there is
// none.
func (m *Model) Column(name string) (col *messages.ColumnDef, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	key := foldASCII(name)
	for _, c := range m.def.GetColumns() {
		if foldASCII(c.GetName()) == key {
			return proto.CloneOf(c), true
		}
	}
	return nil, false
}

// AddColumn appends a clone of c, validated like [New] against the columns
// already there (for example a duplicate name is refused), and invalidates
// the metadata. The registry uses it to inject the content_type reference
// (with Injected set). On error the Model is unchanged.
func (m *Model) AddColumn(c *messages.ColumnDef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c == nil {
		return &DefinitionError{Model: m.def.GetName(), Reason: "nil column"}
	}
	c = proto.CloneOf(c)
	candidate := proto.CloneOf(m.def)
	candidate.Columns = append(candidate.Columns, c)
	if errs := validateDef(candidate, true); len(errs) > 0 {
		return errors.Join(errs...)
	}
	m.def = candidate // a copy: an adopted definition is never changed
	m.meta = nil
	return nil
}

// Copy returns a new Model with the same definition minus the injected
// columns (Edgy's no_copy: a registry copy lets its own callbacks inject
// them again). Its metadata is not initialised and its [Model.Inits] is 0.
func (m *Model) Copy() *Model {
	m.mu.RLock()
	defer m.mu.RUnlock()
	def := proto.CloneOf(m.def)
	def.Columns = slices.DeleteFunc(def.Columns, (*messages.ColumnDef).GetInjected)
	return adopt(def)
}

// Initialized reports whether the metadata is computed and cached.
func (m *Model) Initialized() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.meta != nil
}

// Init computes and caches the metadata for every dialect, unless it is
// cached already (Edgy's init_models). DDL methods call it implicitly.
func (m *Model) Init() { m.metadata() }

// Invalidate drops the cached metadata (Edgy's invalidate_models); the next
// DDL method computes it again.
func (m *Model) Invalidate() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.meta = nil
}

// Inits is how many times the metadata has been computed.
func (m *Model) Inits() int64 { return m.inits.Load() }

// metadata returns the cached metadata, computing it once if needed.
func (m *Model) metadata() *metadata {
	m.mu.RLock()
	md := m.meta
	m.mu.RUnlock()
	if md != nil {
		return md
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.meta == nil {
		m.meta = buildMetadata(m.def)
		m.inits.Add(1)
	}
	return m.meta
}

// validateDef returns every problem of def, one *DefinitionError each.
// whole enables the checks of the model as a whole (it has columns and a
// primary key); FromStruct leaves them out while fields are missing.
func validateDef(def *messages.ModelDef, whole bool) []error {
	model := def.GetName()
	var errs []error
	add := func(column string, err error, format string, args ...any) {
		errs = append(errs, &DefinitionError{Model: model, Column: column, Reason: fmt.Sprintf(format, args...), Err: err})
	}
	name := func(column, kind, what, value string) {
		if err := ident.Validate(kind, value); err != nil {
			reason := err.Error()
			var ie *ident.Error
			if errors.As(err, &ie) {
				reason = ie.Reason
			}
			add(column, err, "%s %q: %s", what, value, reason)
		}
	}

	name("", "model", "model name", model)
	name("", "table", "table", def.GetTable())
	if def.GetSchema() != "" {
		name("", "schema", "schema", def.GetSchema())
	}
	if whole && len(def.GetColumns()) == 0 {
		add("", nil, "no columns")
	}

	// The column names so far, by folded name: a slice, not a map, since
	// models have few columns and registration is the registry's hot path.
	var buf [16][2]string // on the stack for most models
	seen := buf[:0]
	var pks int
	var autos []*messages.ColumnDef
	for _, c := range def.GetColumns() {
		col := c.GetName()
		if err := ident.Validate("column", col); err != nil {
			name(col, "column", "column name", col)
		} else {
			key := foldASCII(col)
			switch i := slices.IndexFunc(seen, func(kv [2]string) bool { return kv[0] == key }); {
			case i < 0:
				seen = append(seen, [2]string{key, col})
			case seen[i][1] == col:
				add(col, nil, "duplicate column name")
			default:
				add(col, nil, "duplicate column name: %q differs only in case, and SQLite compares column names ignoring case", seen[i][1])
			}
		}

		if !knownType(c.GetType()) {
			if c.GetType() == messages.ColumnType_COLUMN_TYPE_UNSPECIFIED {
				add(col, nil, "column type unspecified")
			} else {
				add(col, nil, "unknown column type %d", int32(c.GetType()))
			}
		}
		if c.GetPrimaryKey() {
			pks++
			if c.GetNullable() {
				add(col, nil, "a primary key column cannot be nullable")
			}
			if c.GetInjected() {
				add(col, nil, "an injected column cannot be part of the primary key")
			}
		}
		switch n := c.GetMaxLength(); {
		case n < 0:
			add(col, nil, "max_length %d is negative", n)
		case n > 0 && c.GetType() != messages.ColumnType_COLUMN_TYPE_TEXT:
			add(col, nil, "max_length (size) applies to TEXT columns only")
		case n > maxVarchar:
			add(col, nil, "max_length %d exceeds PostgreSQL's VARCHAR limit %d", n, maxVarchar)
		}

		rt, rc := c.GetReferencesTable(), c.GetReferencesColumn()
		if (rt == "") != (rc == "") {
			add(col, nil, "references_table and references_column must be set together")
		}
		if rt != "" {
			name(col, "table", "referenced table", rt)
		}
		if rc != "" {
			name(col, "column", "referenced column", rc)
		}
		switch od := c.GetOnDelete(); {
		case !validOnDelete(od):
			add(col, nil, "on_delete %q: want \"\", \"CASCADE\", \"SET NULL\", \"RESTRICT\" or \"NO ACTION\"", od)
		case od != "" && rt == "":
			add(col, nil, "on_delete %q without a foreign key (references_table)", od)
		case od == "SET NULL" && !c.GetNullable():
			add(col, nil, "ON DELETE SET NULL on a column that is not nullable")
		}
		if reason := checkDefaultSQL(c.GetDefaultSql()); reason != "" {
			add(col, nil, "default_sql %q: %s", c.GetDefaultSql(), reason)
		}
		if c.GetAutoIncrement() {
			autos = append(autos, c)
		}
	}
	if whole && pks == 0 && len(def.GetColumns()) > 0 {
		add("", nil, "no primary key: mark a column primary_key (FromStruct: tag a field pk, or have a column named \"id\")")
	}
	for _, c := range autos {
		switch {
		case !c.GetPrimaryKey() || pks != 1 || !isInteger(c.GetType()):
			add(c.GetName(), nil, "auto_increment needs the single primary key column to be an integer")
		case c.GetDefaultSql() != "":
			add(c.GetName(), nil, "auto_increment and default_sql exclude each other")
		}
	}
	return errs
}

// checkDefaultSQL returns why expr cannot be rendered as a column's DEFAULT,
// or "" when it can. The expression itself is trusted (it is SQL, run at
// every insert), but it must stay inside its column definition: it is
// rendered into CREATE TABLE, which runs in a multi-statement capable
// exchange, so a ';' or a comment would end or hide the rest of the
// statement and a top-level ',' or ')' would add columns or constraints.
//
// The check reads expr the way both PostgreSQL and SQLite tokenize it:
// '…' string literals and "…" quoted identifiers (doubled quote inside),
// everything else outside. Constructs on which the two dialects — or
// PostgreSQL's settings (standard_conforming_strings) — could disagree about
// where a literal ends are refused outright: a backslash anywhere (escape strings),
// '$' (dollar quoting, $$…$$), '[' ']' and '`' (SQLite's other identifier
// quotes). Outside literals ';', "--", "/*", "*/" and a ',' not inside
// parentheses are refused, and parentheses must balance.
func checkDefaultSQL(expr string) string {
	switch {
	case expr == "":
		return ""
	case strings.IndexByte(expr, 0) >= 0:
		return "contains a NUL byte"
	case !utf8.ValidString(expr):
		return "not valid UTF-8"
	case strings.TrimSpace(expr) == "":
		return "blank"
	case strings.ContainsRune(expr, '\\'):
		return "contains a backslash (escape-string syntax differs between dialects)"
	}
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '\'', '"':
			j := i + 1
			for ; j < len(expr); j++ {
				if expr[j] == c {
					if j+1 < len(expr) && expr[j+1] == c {
						j++ // a doubled quote stands for one
						continue
					}
					break
				}
			}
			if j >= len(expr) {
				return "unterminated " + map[byte]string{'\'': "string literal", '"': "quoted identifier"}[c]
			}
			i = j
		case ';':
			return "contains ';' (one expression, not statements)"
		case '$', '[', ']', '`':
			return fmt.Sprintf("contains %q outside a string literal (dollar quoting and SQLite's [ ] ` quotes are not supported)", c)
		case '-', '/', '*':
			if i+1 < len(expr) {
				switch expr[i : i+2] {
				case "--", "/*", "*/":
					return "contains a comment"
				}
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return "unbalanced ')'"
			}
		case ',':
			if depth == 0 {
				return "contains ',' outside parentheses (one expression)"
			}
		}
	}
	if depth != 0 {
		return "unbalanced '('"
	}
	return ""
}

// foldASCII lower-cases ASCII letters only, the way SQLite compares
// identifiers.
func foldASCII(s string) string {
	upper := false
	for i := 0; i < len(s) && !upper; i++ {
		upper = 'A' <= s[i] && s[i] <= 'Z'
	}
	if !upper {
		return s // the common case, without a copy
	}
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}
