package models

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/messages"
)

// sqlToken is one token of a statement as a dialect's lexer reads it.
type sqlToken struct {
	kind  byte   // 'q' quoted identifier, 's' string, 'w' word, 'p' punctuation/operator, ';', 'c' comment
	text  string // the token as written
	value string // the decoded identifier of a 'q' token
	start int    // offset in the statement
	depth int    // parenthesis depth before the token
}

// lexSQL tokenizes stmt the way dialect d's lexer does, independently of the
// code under test: PostgreSQL's E'…' escape strings, $tag$ dollar quotes and
// nested comments; SQLite's [ ] and ` ` identifiers. It fails on anything
// unterminated.
func lexSQL(d dsn.Dialect, stmt string) ([]sqlToken, error) {
	var out []sqlToken
	depth := 0
	isWord := func(c byte) bool {
		return c == '_' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || d == dsn.Postgres && c == '$'
	}
	emit := func(kind byte, start, end int, value string) {
		out = append(out, sqlToken{kind: kind, text: stmt[start:end], value: value, start: start, depth: depth})
	}
	// delimited reads from i (just after the opening quote) to the closing
	// one; a doubled closing quote stands for one.
	delimited := func(i int, quote byte, backslash bool) (string, int, bool) {
		var b strings.Builder
		for i < len(stmt) {
			c := stmt[i]
			switch {
			case backslash && c == '\\' && i+1 < len(stmt):
				b.WriteByte(stmt[i+1])
				i += 2
				continue
			case c == quote && i+1 < len(stmt) && stmt[i+1] == quote:
				b.WriteByte(quote)
				i += 2
				continue
			case c == quote:
				return b.String(), i + 1, true
			}
			b.WriteByte(c)
			i++
		}
		return "", 0, false
	}
	for i := 0; i < len(stmt); {
		c := stmt[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(stmt) && stmt[i+1] == '-':
			end := strings.IndexByte(stmt[i:], '\n')
			if end < 0 {
				end = len(stmt) - i
			}
			i += end
			emit('c', start, i, "")
		case c == '/' && i+1 < len(stmt) && stmt[i+1] == '*':
			nest := 0
			for i < len(stmt) {
				if strings.HasPrefix(stmt[i:], "/*") && (nest == 0 || d == dsn.Postgres) {
					nest++
					i += 2
				} else if strings.HasPrefix(stmt[i:], "*/") {
					nest--
					i += 2
					if nest == 0 {
						break
					}
				} else {
					i++
				}
			}
			if nest != 0 {
				return nil, errors.New("unterminated comment")
			}
			emit('c', start, i, "")
		case c == '"' || d == dsn.SQLite && c == '`':
			v, end, ok := delimited(i+1, c, false)
			if !ok {
				return nil, errors.New("unterminated quoted identifier")
			}
			i = end
			emit('q', start, i, v)
		case d == dsn.SQLite && c == '[':
			end := strings.IndexByte(stmt[i:], ']')
			if end < 0 {
				return nil, errors.New("unterminated [identifier]")
			}
			i += end + 1
			emit('q', start, i, stmt[start+1:i-1])
		case c == '\'':
			_, end, ok := delimited(i+1, '\'', false)
			if !ok {
				return nil, errors.New("unterminated string")
			}
			i = end
			emit('s', start, i, "")
		case d == dsn.Postgres && (c == 'e' || c == 'E') && i+1 < len(stmt) && stmt[i+1] == '\'' && (i == 0 || !isWord(stmt[i-1])):
			_, end, ok := delimited(i+2, '\'', true)
			if !ok {
				return nil, errors.New("unterminated escape string")
			}
			i = end
			emit('s', start, i, "")
		case d == dsn.Postgres && c == '$' && (i == 0 || !isWord(stmt[i-1])):
			// $n is a parameter; $tag$ (tag possibly empty) opens a dollar quote.
			j := i + 1
			for j < len(stmt) && isWord(stmt[j]) && stmt[j] != '$' {
				j++
			}
			if j < len(stmt) && stmt[j] == '$' && (j == i+1 || !('0' <= stmt[i+1] && stmt[i+1] <= '9')) {
				tag := stmt[i : j+1]
				end := strings.Index(stmt[j+1:], tag)
				if end < 0 {
					return nil, errors.New("unterminated dollar quote")
				}
				i = j + 1 + end + len(tag)
				emit('s', start, i, "")
				continue
			}
			i = j
			emit('w', start, i, "")
		case c == ';':
			i++
			emit(';', start, i, "")
		case c == '(':
			i++
			emit('p', start, i, "")
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, errors.New("unbalanced )")
			}
			i++
			emit('p', start, i, "")
		case isWord(c):
			for i < len(stmt) && isWord(stmt[i]) {
				i++
			}
			emit('w', start, i, "")
		default:
			i++
			emit('p', start, i, "")
		}
	}
	if depth != 0 {
		return nil, errors.New("unbalanced (")
	}
	return out, nil
}

// modelSeeds are hostile names for every name position; testdata/fuzz
// holds more.
var modelSeeds = []string{
	"",
	" ",
	`"`,
	";",
	`x"; DROP TABLE y; --`,
	"a\x00b",
	strings.Repeat("n", ident.MaxLen),
	strings.Repeat("n", ident.MaxLen+1),
	"日本",
	"\xff",
}

// FuzzModel: New never panics; it refuses a bad definition with errors
// matching ErrInvalidModel (names also ErrInvalidName), and a definition it
// accepts renders DDL in which, as both dialects' lexers read it, every name
// is one quoted identifier spelling the name exactly, the default stays
// inside its column, and nothing ends the statement early.
func FuzzModel(f *testing.F) {
	for _, s := range modelSeeds {
		f.Add(s, "", "", "id", int32(1), "name", int32(4), "", "", "", uint8(0x01))
		f.Add("User", s, s, s, int32(1), "name", int32(4), "", "", "", uint8(0x19))
		f.Add("User", "", "", "id", int32(1), s, int32(4), s, "id", s, uint8(0xf1))
	}
	f.Fuzz(func(t *testing.T, name, table, schema, col1 string, type1 int32, col2 string, type2 int32, refTable, refCol, defaultSQL string, flags uint8) {
		def := &messages.ModelDef{
			Name: name, Table: table, Schema: schema,
			Columns: []*messages.ColumnDef{
				{Name: col1, Type: messages.ColumnType(type1), PrimaryKey: flags&0x01 != 0, AutoIncrement: flags&0x04 != 0, Index: flags&0x08 != 0},
				{Name: col2, Type: messages.ColumnType(type2), PrimaryKey: flags&0x02 != 0, Index: flags&0x10 != 0,
					Unique: flags&0x20 != 0, Nullable: flags&0x40 != 0, DefaultSql: defaultSQL,
					ReferencesTable: refTable, ReferencesColumn: refCol},
			},
		}
		if refTable != "" && flags&0x40 != 0 {
			def.Columns[1].OnDelete = "SET NULL"
		}
		m, err := New(def)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidModel)
			var de *DefinitionError
			require.ErrorAs(t, err, &de)
			for _, n := range []string{name, table, schema, col1, col2, refTable, refCol} {
				if n != "" && ident.Validate("x", n) != nil {
					// Whichever name is bad, the errors name it typed.
					require.ErrorIs(t, err, messages.ErrInvalidName)
				}
			}
			return
		}
		// Accepted: every name is valid.
		for _, n := range []string{m.Name(), m.Table(), col1, col2} {
			require.NoError(t, ident.Validate("x", n))
		}
		if schema != "" {
			require.NoError(t, ident.Validate("x", schema))
		}
		names := map[string]bool{m.Table(): true, col1: true, col2: true, schema: true, refTable: true, refCol: true}
		cols := m.Columns()
		pks := 0
		for _, c := range cols {
			if c.GetPrimaryKey() {
				pks++
			}
		}
		for _, d := range []dsn.Dialect{dsn.Postgres, dsn.SQLite} {
			for _, sch := range []string{schema, ""} {
				ine := flags&0x80 != 0
				stmts := m.CreateTableSQL(d, sch, ine)
				wantIdx := 0
				for _, c := range cols {
					if c.GetIndex() {
						wantIdx++
						names[indexName(m.Table(), c.GetName())] = true
					}
				}
				require.Len(t, stmts, 1+wantIdx)
				prefix := "CREATE TABLE " + map[bool]string{true: "IF NOT EXISTS "}[ine] + ident.Quote(sch, m.Table()) + " ("
				require.True(t, strings.HasPrefix(stmts[0], prefix), "%s", stmts[0])
				for _, s := range stmts {
					checkStatement(t, d, s, names, defaultSQL)
				}
				// The column list: one item per column (plus a composite
				// key), each starting with its quoted name.
				toks, err := lexSQL(d, stmts[0])
				require.NoError(t, err)
				items := []int{len(prefix)}
				for _, tk := range toks {
					if tk.depth == 1 && tk.text == "," {
						items = append(items, tk.start+1)
					}
				}
				want := len(cols)
				if pks > 1 {
					want++
				}
				require.Len(t, items, want, "%s", stmts[0])
				for i, c := range cols {
					item := strings.TrimLeft(stmts[0][items[i]:], " ")
					require.True(t, strings.HasPrefix(item, ident.Quote(c.GetName())+" "), "column %d of %s", i, stmts[0])
				}
				drop := m.DropTableSQL(d, sch, ine)
				require.Equal(t, "DROP TABLE "+map[bool]string{true: "IF EXISTS "}[ine]+ident.Quote(sch, m.Table()), drop)
				checkStatement(t, d, drop, names, "")
			}
		}
		// QualifiedTable validates what it is given.
		q, err := m.QualifiedTable(schema + table)
		if schema+table != "" && ident.Validate("x", schema+table) != nil {
			require.ErrorIs(t, err, messages.ErrInvalidName)
		} else {
			require.NoError(t, err)
			require.Equal(t, ident.Quote(schema+table, m.Table()), q)
		}
	})
}

// checkStatement lexes one statement as dialect d does: it must be exactly
// one statement, without comments, with balanced parentheses, and every
// quoted identifier outside the default expression must be one of names.
func checkStatement(t *testing.T, d dsn.Dialect, stmt string, names map[string]bool, defaultSQL string) {
	t.Helper()
	require.True(t, utf8.ValidString(stmt))
	require.NotContains(t, stmt, "\x00")
	toks, err := lexSQL(d, stmt)
	require.NoError(t, err, "%s: %s", d, stmt)
	defStart, defEnd := -1, -1
	if defaultSQL != "" {
		if i := strings.Index(stmt, " DEFAULT ("+defaultSQL+")"); i >= 0 {
			defStart, defEnd = i, i+len(" DEFAULT ("+defaultSQL+")")
		}
	}
	for _, tk := range toks {
		require.NotEqual(t, byte(';'), tk.kind, "%s: a second statement in %s", d, stmt)
		require.NotEqual(t, byte('c'), tk.kind, "%s: a comment in %s", d, stmt)
		if tk.kind == 'q' && (tk.start < defStart || tk.start >= defEnd) {
			require.True(t, names[tk.value], "%s: identifier %q in %s is none of the model's names", d, tk.value, stmt)
		}
	}
}

// A default expression stays one expression: what would end the column
// definition or the statement — directly, or by a quote the other dialect
// (or another server setting) reads differently — is refused.
func TestDefaultSQLInjectionRefused(t *testing.T) {
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{"''", true},
		{"'it''s'", true},
		{"CURRENT_TIMESTAMP", true},
		{"coalesce(1, 2)", true},
		{"'a;b -- c /* d */ , e)'", true},
		{`'{}'`, true},
		{"now()", true},
		{`"x"`, true},
		{"0); DROP TABLE x; --", false},
		{"0; DROP TABLE x", false},
		{"0, evil BIGINT", false},
		{"0) , CHECK (false", false},
		{"'a'; DROP TABLE x", false},
		{"$$'$$; DROP TABLE x; --'", false},
		{`E'\' || ';DROP TABLE x;--'`, false},
		{`'\' || ';DROP TABLE x;--'`, false},
		{"[']; DROP TABLE x; --']", false},
		{"`'`; DROP TABLE x; --'", false},
		{"0 /* x */", false},
		{"0 -- x", false},
		{"'unterminated", false},
		{`"unterminated`, false},
		{"(0", false},
		{"0)", false},
		{"  ", false},
		{"'\xff'", false},
		{"'a\x00'", false},
	} {
		def := &messages.ModelDef{Name: "X", Columns: []*messages.ColumnDef{
			{Name: "id", Type: messages.ColumnType_COLUMN_TYPE_BIGINT, PrimaryKey: true},
			{Name: "v", Type: messages.ColumnType_COLUMN_TYPE_TEXT, DefaultSql: tc.expr},
		}}
		m, err := New(def)
		if !tc.ok {
			require.ErrorIs(t, err, ErrInvalidModel, "%q", tc.expr)
			var de *DefinitionError
			require.ErrorAs(t, err, &de)
			require.Equal(t, "v", de.Column)
			continue
		}
		require.NoError(t, err, "%q", tc.expr)
		for _, d := range []dsn.Dialect{dsn.Postgres, dsn.SQLite} {
			stmts := m.CreateTableSQL(d, "s", false)
			checkStatement(t, d, stmts[0], map[string]bool{"s": true, "xs": true, "id": true, "v": true}, tc.expr)
		}
	}
}
