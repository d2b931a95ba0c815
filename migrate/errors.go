package migrate

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

var (
	// ErrMigration is matched (errors.Is) by every *MigrationError: a set of
	// migrations that could not be brought where it was asked to go. It is
	// the protocol's (messages.ErrMigration, client.ErrMigration), which a
	// remote client's *client.MigrationError matches too.
	ErrMigration = messages.ErrMigration
	// ErrLayout reports a migrations directory that does not fit the layout
	// <root>/<database>[/tenants]/NNNNN_name.sql: a directory for a database
	// the registry does not have, a Go migration for an unknown set, a file
	// name goose cannot read a version from, two files with one version.
	ErrLayout = errors.New("dbactor/migrate: migrations layout")
	// ErrUnknownSchema reports a tenant named with Tenants that does not
	// exist in a database that has tenant migrations.
	ErrUnknownSchema = errors.New("dbactor/migrate: no such tenant schema")
	// ErrUnsupported is registry.ErrUnsupported: tenant migrations on an
	// in-memory SQLite database (its schemas cannot be opened on their own)
	// and migrating an in-memory SQLite database nobody holds connected.
	ErrUnsupported = registry.ErrUnsupported
	// ErrInvalidArgument reports a bad option or argument: a negative
	// target, an invalid version table or migration name.
	ErrInvalidArgument = errors.New("dbactor/migrate: invalid argument")
)

// MigrationError is the failure of one set of migrations: the set of a
// database (Schema "") or of one tenant schema of it. Version and Source
// name the migration that failed, when one did (0 and "" for a failure
// before any migration ran: connecting, locking, reading the version
// table). The failed migration's transaction was rolled back, so it is not
// applied; the migrations of the set run before it in the same call stay
// applied and are listed in the Result. Err is the cause; it never holds a
// password. It matches ErrMigration and, through Unwrap, its cause.
type MigrationError struct {
	// Database is the registry's name for the database: "" for the main one.
	Database string
	// Schema is the tenant schema, "" for the database's own set.
	Schema string
	// Version is the migration that failed, 0 when none did.
	Version int64
	// Source is the file of that migration (relative to its set's
	// directory), or "" for a Go migration or none.
	Source string
	// Op is what was asked: up or down.
	Op Op
	// Err is the cause.
	Err error
}

// Error describes the failure: database, schema, migration, cause.
func (e *MigrationError) Error() string {
	s := "migrate " + string(e.Op) + ": database " + strconv.Quote(dirName(e.Database))
	if e.Schema != "" {
		s += ", tenant " + strconv.Quote(e.Schema)
	}
	if e.Version != 0 {
		s += fmt.Sprintf(", version %d", e.Version)
		if e.Source != "" {
			s += " (" + e.Source + ")"
		}
	}
	return s + ": " + fmt.Sprint(e.Err)
}

// Unwrap returns the cause.
func (e *MigrationError) Unwrap() error { return e.Err }

// Is makes every MigrationError match ErrMigration.
func (e *MigrationError) Is(target error) bool { return target == ErrMigration }
