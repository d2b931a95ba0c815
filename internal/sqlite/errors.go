package sqlite

import (
	"context"
	"errors"
	"fmt"

	msqlite "modernc.org/sqlite"

	"github.com/dbactor/dbactor/messages"
)

// Operations named in Error.Op.
const (
	OpOpen   = "open"
	OpCreate = "create schema"
	OpDrop   = "drop schema"
	OpList   = "list schemas"
	OpAttach = "attach schema"
	OpDetach = "detach schema"
	// OpRefresh: reading the schema directory again, when another DB or
	// process changed it, before a connection is handed out.
	OpRefresh = "refresh schemas"
	// OpUse: a statement on a connection whose attached schema was
	// dropped while the connection was held (see errDropped).
	OpUse = "use schema"
)

// Error is every error this package returns, except the *ident.Error of an
// invalid schema name. Its text is modelled on PostgreSQL's, so callers see
// the same words on both dialects (`schema "x" already exists`).
//
// errors.Is matches Kind (messages.ErrSchema, messages.ErrUnsupported,
// messages.ErrClosed or messages.ErrInvalidConfig); errors.Is/As also reach
// Err, the underlying driver, file system or context error, when there is
// one.
type Error struct {
	Op      string // one of the Op constants
	Schema  string // the schema name as given; "" when none is involved
	Message string // what went wrong, without the cause
	Kind    error  // the sentinel; nil for a context error, so its code stays a timeout or cancellation
	Err     error  // the cause, or nil
}

// Error is Message, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's sentinel.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// quoted writes a name the way PostgreSQL's messages do: in double quotes,
// as is.
func quoted(name string) string { return `"` + name + `"` }

func errExists(op, name string) *Error {
	return &Error{Op: op, Schema: name, Kind: messages.ErrSchema,
		Message: fmt.Sprintf("schema %s already exists", quoted(name))}
}

func errMissing(op, name string) *Error {
	return &Error{Op: op, Schema: name, Kind: messages.ErrSchema,
		Message: fmt.Sprintf("schema %s does not exist", quoted(name))}
}

func errDependents(name string) *Error {
	return &Error{Op: OpDrop, Schema: name, Kind: messages.ErrSchema,
		Message: fmt.Sprintf("cannot drop schema %s because other objects depend on it", name)}
}

func errReserved(op, name string) *Error {
	msg := fmt.Sprintf("cannot drop schema %s because it is required by the database system", name)
	if op == OpCreate {
		msg = fmt.Sprintf("cannot create schema %s: SQLite reserves the name %q for its temporary database", quoted(name), tempSchema)
	}
	return &Error{Op: op, Schema: name, Kind: messages.ErrUnsupported, Message: msg}
}

func errLimit(op, name string, limit int, cause error) *Error {
	return &Error{Op: op, Schema: name, Kind: messages.ErrUnsupported, Err: cause,
		Message: fmt.Sprintf("cannot %s %s: SQLite attaches at most %d databases to a connection (SQLITE_MAX_ATTACHED), and each schema is one attached database", op, quoted(name), limit)}
}

func errReadOnly(op, name string) *Error {
	return &Error{Op: op, Schema: name, Kind: messages.ErrSchema,
		Message: fmt.Sprintf("cannot %s %s: the database is read-only", op, quoted(name))}
}

func errClosed(op, name string) *Error {
	return &Error{Op: op, Schema: name, Kind: messages.ErrClosed, Message: "cannot " + op + ": the database is closed"}
}

// failed wraps a cause (driver, file system, context): never returned raw.
// Context errors keep no sentinel, so messages.CodeOf still classifies them
// as a timeout or a cancellation.
func failed(op, name string, cause error) *Error {
	e := &Error{Op: op, Schema: name, Kind: messages.ErrSchema, Err: cause, Message: "cannot " + op}
	if name != "" {
		e.Message += " " + quoted(name)
	}
	if errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		e.Kind = nil
	}
	return e
}

// SQLite's extended result codes of a statement that wrote to a schema
// whose file was deleted under its connection: the file was unlinked
// (SQLITE_READONLY_DBMOVED), or its journal was, as SQLite deleted it
// (SQLITE_IOERR_DELETE_NOENT) or looked at it (SQLITE_IOERR_FSTAT).
const (
	codeReadonlyDBMoved  = 1032
	codeIOErrFstat       = 1802
	codeIOErrDeleteNoent = 5898
)

// errDropped turns SQLite's error for a write to a schema dropped under a
// held connection into a typed one (messages.ErrSchema; the driver error
// stays reachable with errors.As); any other error is returned as it is.
// SQLite does not say which attached database the file belonged to.
func errDropped(err error) error {
	if err == nil {
		return nil
	}
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case codeReadonlyDBMoved, codeIOErrFstat, codeIOErrDeleteNoent:
	default:
		return err
	}
	return &Error{Op: OpUse, Kind: messages.ErrSchema, Err: err,
		Message: "cannot use schema: a database file of this connection was deleted or moved while the connection was held — a schema dropped " +
			"(by this or another registry, or another process) while a sql.Conn, a sql.Tx or a statement held the connection; " +
			"run the statement again on a connection taken from the pool after the drop"}
}
