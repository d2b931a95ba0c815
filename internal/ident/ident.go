package ident

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dbactor/dbactor/messages"
)

// MaxLen is PostgreSQL's identifier limit in bytes (NAMEDATALEN - 1). Longer
// names would be truncated silently by the server; they are refused instead.
const MaxLen = 63

// ErrInvalid is what every validation error matches (messages.ErrInvalidName).
var ErrInvalid = messages.ErrInvalidName

// Error is an invalid identifier: what kind it is, the name, and why.
type Error struct {
	Kind   string // "schema", "table", "column", "model"
	Name   string
	Reason string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("dbactor: invalid %s name %q: %s", e.Kind, e.Name, e.Reason)
}

// Is makes every *Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Validate checks a name of the given kind: not empty, at most MaxLen bytes,
// valid UTF-8, no NUL. Anything else is fine once quoted: quotes,
// semicolons, spaces and unicode cannot escape pgx.Identifier's quoting.
func Validate(kind, name string) error {
	switch {
	case name == "":
		return &Error{Kind: kind, Name: name, Reason: "empty"}
	case len(name) > MaxLen:
		return &Error{Kind: kind, Name: name, Reason: fmt.Sprintf("%d bytes, PostgreSQL allows at most %d", len(name), MaxLen)}
	case strings.IndexByte(name, 0) >= 0:
		return &Error{Kind: kind, Name: name, Reason: "contains a NUL byte"}
	case !utf8.ValidString(name):
		return &Error{Kind: kind, Name: name, Reason: "not valid UTF-8"}
	}
	return nil
}

// Quote quotes a possibly qualified name: Quote("tenant", "users") is
// "tenant"."users". Empty parts are left out, so Quote("", "users") is
// "users". The parts must have passed Validate.
func Quote(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		// As pgx.Identifier.Sanitize quotes (ident stays free of pgx, for
		// the client package): NULs dropped, quotes doubled.
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(p, "\x00", ""), `"`, `""`))
		b.WriteByte('"')
	}
	return b.String()
}
