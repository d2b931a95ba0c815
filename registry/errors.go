package registry

import (
	"github.com/dbactor/dbactor/internal/pgdb"
	"github.com/dbactor/dbactor/messages"
)

// Sentinel errors. Match them with errors.Is: every error a Registry or a
// Database returns wraps one of them. Errors that travel as messages
// (messages.Error) match the same sentinels, locally and across nodes.
var (
	// ErrClosed: the registry was closed, or the actor behind a call has
	// stopped. Calls after Close fail fast with it.
	ErrClosed = messages.ErrClosed
	// ErrNotConnected: Database.Run on a force-rollback database that is
	// not connected (connecting for one operation would roll it back at
	// once; Edgy raises RuntimeError("db is not connected.") there), or a
	// Query or Exec on a database with no open pool.
	ErrNotConnected = messages.ErrNotConnected
	// ErrConnLost: a statement run through Database.DB() (PostgreSQL) lost
	// its connection while it ran. It may or may not have been executed,
	// so it was not retried on another connection (pgx would let
	// database/sql run it twice).
	ErrConnLost = pgdb.ErrConnLost
	// ErrUnknownDatabase: the name is neither the main database nor an extra.
	ErrUnknownDatabase = messages.ErrUnknownDatabase
	// ErrInvalidConfig: the Config or an Option is invalid. Returned by New
	// before anything is spawned; never retried.
	ErrInvalidConfig = messages.ErrInvalidConfig
	// ErrInvalidName: a name is invalid: an extra database name that is
	// empty or blank (also ErrInvalidConfig), or a schema, table or column
	// name that is empty, longer than 63 bytes or contains NUL.
	ErrInvalidName = messages.ErrInvalidName
	// ErrSchema: a schema operation failed on the server ("already exists",
	// "does not exist", "dependent objects"); errors.As gives *SchemaError.
	ErrSchema = messages.ErrSchema
	// ErrUnsupported: the dialect cannot do this soundly (say, more SQLite
	// schemas than a connection can attach).
	ErrUnsupported = messages.ErrUnsupported
	// ErrModelCollision: a model with that name is already registered.
	ErrModelCollision = messages.ErrModelCollision
	// ErrUnknownModel: no model with that name is registered.
	ErrUnknownModel = messages.ErrUnknownModel
	// ErrConnectFailed: opening or pinging a database failed.
	ErrConnectFailed = messages.ErrConnectFailed
	// ErrTimeout: a deadline passed first. Such errors also match
	// context.DeadlineExceeded.
	ErrTimeout = messages.ErrTimeout
	// ErrCanceled: the caller's context was cancelled. Also matches
	// context.Canceled.
	ErrCanceled = messages.ErrCanceled
	// ErrHookFailed: an on-connect or on-disconnect hook failed.
	ErrHookFailed = messages.ErrHookFailed
	// ErrDisconnectFailed: closing a database failed.
	ErrDisconnectFailed = messages.ErrDisconnectFailed
	// ErrRollbackFailed: disconnecting a database while rolling back a failed
	// Connect failed.
	ErrRollbackFailed = messages.ErrRollbackFailed
)

// ConnectError is one database's connect failure. A failed Registry.Connect
// returns one per failed database (errors.Join, main database first, then the
// extras in registry order); errors.As finds each.
type ConnectError = messages.ConnectError

// DisconnectError is one database's disconnect failure.
type DisconnectError = messages.DisconnectError

// SchemaError is a schema operation that failed on one database. It matches
// ErrSchema (or, when the dialect cannot do it, ErrUnsupported; a deadline,
// ErrTimeout; …: whatever Err matches).
type SchemaError = messages.SchemaError

// ConfigError is a problem with the configuration of one database: its URL
// or its name. New returns every problem at once, joined.
type ConfigError struct {
	// Database is the name of the database: "" for the main database.
	Database string
	// Err is the problem: a *ParseError, ErrInvalidName, ErrUnknownDatabase…
	Err error
}

// Error names the database and the problem.
func (e *ConfigError) Error() string {
	return "dbactor: configuration of " + messages.DisplayName(e.Database) + ": " + e.Err.Error()
}

// Unwrap returns the cause and ErrInvalidConfig, which every ConfigError
// matches.
func (e *ConfigError) Unwrap() []error { return []error{e.Err, ErrInvalidConfig} }
