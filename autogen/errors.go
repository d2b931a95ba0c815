package autogen

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidName is returned by Write for a migration name that gives no
	// file name (empty once reduced to [a-z0-9_]).
	ErrInvalidName = errors.New("autogen: invalid migration name")
	// ErrUnsupported is returned for what autogenerate cannot do: a
	// database of another dialect, or an SQLite statement of atlas's
	// planner that cannot be qualified with an attached schema.
	ErrUnsupported = errors.New("autogen: unsupported")
	// ErrNoSchema is returned (in a *DiffError) when the tenant schema
	// given to Tenant does not exist (there is nothing to compare with), or
	// when an SQLite schema that models are bound to does not exist (it is
	// an attached file that SQL cannot create: reg.CreateSchema or
	// reg.CreateAll creates it).
	ErrNoSchema = errors.New("autogen: schema does not exist")
	// ErrExists is returned by Write when the migration file it would write
	// exists already (it never overwrites).
	ErrExists = errors.New("autogen: migration file exists")
)

// DiffError is a comparison that failed on one database and schema: the
// database could not be reached, inspected, or the models' tables could
// not be created in the scratch place.
type DiffError struct {
	// Database is the database's name, "" for the main database.
	Database string
	// Schema is the schema compared ("" for the default schema).
	Schema string
	// Op is the step that failed: "connect", "inspect", "models", "diff", "plan".
	Op string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *DiffError) Error() string {
	db := e.Database
	if db == "" {
		db = "default"
	}
	s := ""
	if e.Schema != "" {
		s = fmt.Sprintf(" schema %q", e.Schema)
	}
	return fmt.Sprintf("autogen: database %q%s: %s: %v", db, s, e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *DiffError) Unwrap() error { return e.Err }
