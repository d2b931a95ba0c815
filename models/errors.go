package models

import (
	"fmt"
	"strings"

	"github.com/dbactor/dbactor/messages"
)

// ErrInvalidModel is what every error of this package matches with
// errors.Is (messages.ErrInvalidModel). Errors about names also match
// messages.ErrInvalidName.
var ErrInvalidModel = messages.ErrInvalidModel

// DefinitionError is one problem of a model definition found by [New],
// [Model.AddColumn] or [FromStruct]. Several problems of one definition are
// returned together, joined with errors.Join.
type DefinitionError struct {
	// Model is the model's name ("" if the name itself is missing).
	Model string
	// Column is the column concerned, "" for a problem of the whole model.
	Column string
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any: an *ident.Error for an invalid
	// name, so that the DefinitionError also matches messages.ErrInvalidName.
	Err error
}

// Error implements error.
func (e *DefinitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dbactor: invalid model %q", e.Model)
	if e.Column != "" {
		fmt.Fprintf(&b, ": column %q", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Is makes every *DefinitionError match [ErrInvalidModel].
func (e *DefinitionError) Is(target error) bool { return target == ErrInvalidModel }

// Unwrap returns the underlying error (an *ident.Error for a bad name).
func (e *DefinitionError) Unwrap() error { return e.Err }

// FieldError is a struct field that [FromStruct] cannot turn into a column:
// an unsupported Go type, a malformed tag, a conflicting option.
type FieldError struct {
	// Struct is the Go struct type's name (package-qualified).
	Struct string
	// Field is the field's name; a dotted path for a field of an embedded
	// struct ("Base.ID").
	Field string
	// GoType is the field's Go type.
	GoType string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("dbactor: invalid model field %s.%s (%s): %s", e.Struct, e.Field, e.GoType, e.Reason)
}

// Is makes every *FieldError match [ErrInvalidModel].
func (e *FieldError) Is(target error) bool { return target == ErrInvalidModel }

// CycleError is returned by [SortByDependencies] when foreign keys form a
// cycle, so that no creation order exists.
type CycleError struct {
	// Tables are the tables on or behind the cycle, in input order.
	Tables []string
}

// Error implements error.
func (e *CycleError) Error() string {
	return fmt.Sprintf("dbactor: foreign keys form a cycle among tables %q", e.Tables)
}

// Is makes every *CycleError match [ErrInvalidModel].
func (e *CycleError) Is(target error) bool { return target == ErrInvalidModel }
