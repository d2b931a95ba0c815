package ident

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// Seeds shared by FuzzValidate and FuzzQuote; testdata/fuzz holds more
// (hostile names: quotes, semicolons, NUL, 63/64/200 bytes, unicode, RTL
// marks, invalid UTF-8).
var identSeeds = []string{
	"tenant_a",
	"",
	" ",
	`"`,
	`""`,
	`a"b;c`,
	`x"; DROP TABLE y; --`,
	"a\x00b",
	"ünïcødé",
	strings.Repeat("a", MaxLen),
	strings.Repeat("a", MaxLen+1),
	"\xff",
}

// unquoteQualified parses s by PostgreSQL's (and SQLite's) rules for a
// possibly qualified delimited identifier: one or more "…" separated by
// '.', where "" inside stands for one '"'. ok is false for anything else —
// an unbalanced quote, text outside the quotes, a NUL. An empty part ("",
// which PostgreSQL refuses as a zero-length delimited identifier: a syntax
// error, never an escape) is returned as "".
func unquoteQualified(s string) (parts []string, ok bool) {
	i := 0
	for {
		if i >= len(s) || s[i] != '"' {
			return nil, false
		}
		i++
		var b strings.Builder
		closed := false
		for i < len(s) {
			c := s[i]
			if c == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i += 2
					continue
				}
				i++
				closed = true
				break
			}
			if c == 0 {
				return nil, false
			}
			b.WriteByte(c)
			i++
		}
		if !closed {
			return nil, false
		}
		parts = append(parts, b.String())
		if i == len(s) {
			return parts, true
		}
		if s[i] != '.' {
			return nil, false
		}
		i++
	}
}

// FuzzValidate: Validate never panics, accepts exactly the names that are
// non-empty, at most MaxLen bytes, valid UTF-8 and free of NUL, refuses
// everything else with a typed *Error, and a name it accepts round-trips
// through Quote exactly.
func FuzzValidate(f *testing.F) {
	for _, s := range identSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := Validate("table", name)
		want := name != "" && len(name) <= MaxLen && utf8.ValidString(name) && !strings.Contains(name, "\x00")
		if !want {
			require.Error(t, err, "%q", name)
			require.ErrorIs(t, err, ErrInvalid)
			var ie *Error
			require.True(t, errors.As(err, &ie))
			require.Equal(t, "table", ie.Kind)
			require.Equal(t, name, ie.Name)
			require.NotEmpty(t, ie.Reason)
			require.True(t, utf8.ValidString(err.Error()), "the message quotes the name with %%q")
			return
		}
		require.NoError(t, err, "%q", name)
		q := Quote(name)
		parts, ok := unquoteQualified(q)
		require.True(t, ok, "Quote(%q) = %s is not one delimited identifier", name, q)
		require.Equal(t, []string{name}, parts)
		require.Equal(t, 2+len(name)+strings.Count(name, `"`), len(q))
	})
}

// FuzzQuote: Quote of any parts is a well-formed qualified delimited
// identifier — balanced quotes, nothing outside them, one part per
// non-empty input — that reads back as the parts; valid parts exactly,
// others without their NUL bytes (pgx drops them; Validate refuses such
// names before any Quote that matters).
func FuzzQuote(f *testing.F) {
	for _, s := range identSeeds {
		f.Add(s, "users", "")
		f.Add("tenant", s, "")
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c}
		q := Quote(in...)
		require.NotContains(t, q, "\x00")
		var want []string
		var id pgx.Identifier
		for _, p := range in {
			if p != "" {
				want = append(want, strings.ReplaceAll(p, "\x00", ""))
				id = append(id, p)
			}
		}
		require.Equal(t, id.Sanitize(), q, "Quote quotes as pgx does")
		if len(want) == 0 {
			require.Empty(t, q)
			return
		}
		parts, ok := unquoteQualified(q)
		require.True(t, ok, "Quote(%q) = %s is not a qualified delimited identifier", in, q)
		require.Equal(t, want, parts)
		valid := true
		for _, p := range in {
			if p != "" && Validate("x", p) != nil {
				valid = false
			}
		}
		if valid {
			require.NotContains(t, parts, "", "a valid part is never a zero-length identifier")
			var nonEmpty []string
			for _, p := range in {
				if p != "" {
					nonEmpty = append(nonEmpty, p)
				}
			}
			require.Equal(t, nonEmpty, parts, "valid parts round-trip exactly")
		}
	})
}
