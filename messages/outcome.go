package messages

import (
	"strconv"

	"google.golang.org/protobuf/proto"
)

// The Go side of replies: the typed errors a failed connect, disconnect or
// schema operation reads as, the options of the schema requests, and the
// relabelling of replies for shared databases. Every facade (the registry,
// a remote client, the in-actor API) reads replies through these.

// ConnectError is one database's connect failure. A failed registry-wide
// connect returns one per failed database (errors.Join, main database first,
// then the extras in registry order); errors.As finds each.
type ConnectError struct {
	// Database is the name of the database: "" for the main database.
	Database string
	// Err is the cause; it matches ErrConnectFailed, ErrTimeout (a deadline,
	// whichever step it cut short), ErrHookFailed, ErrCanceled, ErrClosed or
	// ErrInternal, and errors.As gives a *Error carrying the SQLSTATE when
	// the server reported one.
	Err error
}

// Error names the database and the cause.
func (e *ConnectError) Error() string {
	return "dbactor: connect " + DisplayName(e.Database) + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// DisconnectError is one database's disconnect failure.
type DisconnectError struct {
	// Database is the name of the database: "" for the main database.
	Database string
	// Err is the cause (ErrHookFailed, ErrDisconnectFailed, ErrTimeout, …).
	Err error
}

// Error names the database and the cause.
func (e *DisconnectError) Error() string {
	return "dbactor: disconnect " + DisplayName(e.Database) + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *DisconnectError) Unwrap() error { return e.Err }

// SchemaError is a schema operation that failed on one database. It matches
// ErrSchema (or, when the dialect cannot do it, ErrUnsupported; a deadline,
// ErrTimeout; …: whatever Err matches).
type SchemaError struct {
	// Database is the database's name, "" for the main database.
	Database string
	// Schema is the schema the operation was about ("" for table-only work).
	Schema string
	// Op is "create schema", "drop schema", "create all", "drop all" or
	// "list schemas".
	Op string
	// Message is the server's message, e.g. `schema "t" already exists`.
	Message string
	// SQLState is PostgreSQL's error code (42P06 exists, 3F000 missing,
	// 2BP01 dependent objects), "" for SQLite.
	SQLState string
	// Err is the cause, a *Error matching the sentinels.
	Err error
}

// Error names the database, the operation and the server's message.
func (e *SchemaError) Error() string {
	s := "dbactor: " + e.Op
	if e.Schema != "" {
		s += " " + strconv.Quote(e.Schema)
	}
	return s + " on " + DisplayName(e.Database) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *SchemaError) Unwrap() error { return e.Err }

// MigrationError is the failure of one set of migrations a Migrate request
// ran: a database's own set (Schema "") or one tenant schema's. Version and
// Source name the migration that failed (0 and "" when the set failed
// before any ran). That migration's transaction was rolled back: it is
// pending, never applied; the migrations of the set that ran before it
// stay applied. It matches ErrMigration and, through Unwrap, its cause
// (a *Error: ErrTimeout, ErrConnectFailed, …; its SQLSTATE when the server
// reported one). Package migrate's own *MigrationError is its local twin.
type MigrationError struct {
	// Database is the database's name, "" for the main database.
	Database string
	// Schema is the tenant schema, "" for the database's own set.
	Schema string
	// Version and Source are the migration that failed.
	Version int64
	Source  string
	// Op is what was asked: "up", "down" or "status".
	Op string
	// Err is the cause.
	Err error
}

// Error names the set, the migration and the cause.
func (e *MigrationError) Error() string {
	s := "dbactor: migrate " + e.Op + " on " + DisplayName(e.Database)
	if e.Schema != "" {
		s += ", tenant " + strconv.Quote(e.Schema)
	}
	if e.Version != 0 {
		s += ", version " + strconv.FormatInt(e.Version, 10)
		if e.Source != "" {
			s += " (" + e.Source + ")"
		}
	}
	if e.Err == nil {
		return s
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *MigrationError) Unwrap() error { return e.Err }

// Is makes every MigrationError match ErrMigration.
func (e *MigrationError) Is(target error) bool { return target == ErrMigration }

// DisplayName names a database in messages: "main database" for "", else
// `database "name"`.
func DisplayName(name string) string {
	if name == "" {
		return "main database"
	}
	return "database " + strconv.Quote(name)
}

// SchemaOptions are the options of CreateSchema and DropSchema requests.
type SchemaOptions struct {
	IfNotExists, IfExists, Cascade, WithModels bool
	// Databases names the databases to act on ("" is the main database);
	// none means the main database only.
	Databases []string
}

// Create is the CreateSchema request for schema.
func (o *SchemaOptions) Create(schema string) *CreateSchema {
	return &CreateSchema{Schema: schema, IfNotExists: o.IfNotExists, WithModels: o.WithModels, Databases: o.Databases}
}

// Drop is the DropSchema request for schema.
func (o *SchemaOptions) Drop(schema string) *DropSchema {
	return &DropSchema{Schema: schema, Cascade: o.Cascade, IfExists: o.IfExists, Databases: o.Databases}
}

// Relabel returns reply with every database name set to name: a shared
// database's actor knows only the name its owner gives it.
func Relabel(reply any, name string) any {
	relabel := func(errs []*Error) []*Error {
		out := make([]*Error, len(errs))
		for i, e := range errs {
			out[i] = &Error{Code: e.GetCode(), Message: e.GetMessage(), Database: name, Sqlstate: e.GetSqlstate(), Transient: e.GetTransient()}
		}
		return out
	}
	switch r := reply.(type) {
	case *ConnectResult:
		if len(r.GetErrors()) == 0 {
			return reply // nothing names a database
		}
		return &ConnectResult{Opened: r.GetOpened(), Errors: relabel(r.GetErrors())}
	case *DisconnectResult:
		if len(r.GetErrors()) == 0 {
			return reply
		}
		return &DisconnectResult{Closed: r.GetClosed(), Errors: relabel(r.GetErrors())}
	case *Status:
		st := proto.Clone(r).(*Status)
		st.Database = name
		if r.GetError() != nil {
			st.Error = relabel([]*Error{r.GetError()})[0]
		}
		if r.GetLastError() != nil {
			st.LastError = relabel([]*Error{r.GetLastError()})[0]
		}
		return st
	case *QueryResult:
		if r.GetError() != nil {
			return &QueryResult{Columns: r.GetColumns(), Rows: r.GetRows(), Error: relabel([]*Error{r.GetError()})[0]}
		}
	case *ExecResult:
		if r.GetError() != nil {
			return &ExecResult{RowsAffected: r.GetRowsAffected(), Error: relabel([]*Error{r.GetError()})[0]}
		}
	}
	return reply
}
