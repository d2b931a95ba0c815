package introspect

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotFound is returned when the table (or its schema) does not exist.
	ErrNotFound = errors.New("introspect: table not found")
	// ErrUnknownType is matched by a *TypeError: a column type dbactor's
	// models have no type for.
	ErrUnknownType = errors.New("introspect: unknown column type")
	// ErrUnsupported is matched by an *UnsupportedError, and returned for a
	// dialect other than PostgreSQL and SQLite.
	ErrUnsupported = errors.New("introspect: unsupported")
	// ErrNotConnected is returned by Table for a database that cannot hand
	// out its pool.
	ErrNotConnected = errors.New("introspect: database not connected")
)

// TypeError is a column whose type has no dbactor column type.
type TypeError struct {
	// Table and Column name the column.
	Table, Column string
	// Type is the type as the database declares it.
	Type string
}

// Error implements error.
func (e *TypeError) Error() string {
	return fmt.Sprintf("introspect: table %q column %q: type %q has no dbactor column type", e.Table, e.Column, e.Type)
}

// Unwrap makes a *TypeError match ErrUnknownType.
func (e *TypeError) Unwrap() error { return ErrUnknownType }

// UnsupportedError lists what a table has that a model cannot express (see
// SkipUnsupported).
type UnsupportedError struct {
	// Table is the table's name.
	Table string
	// Features describes each thing left out, such as
	// `index "t_a_b_idx" on several columns`.
	Features []string
}

// Error implements error.
func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("introspect: table %q: not expressible as a model: %s", e.Table, strings.Join(e.Features, "; "))
}

// Unwrap makes an *UnsupportedError match ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }
