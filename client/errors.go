package client

import (
	"time"

	"github.com/dbactor/dbactor/messages"
)

// DefaultTimeout bounds a call whose context has no deadline (and an Async
// call with no Timeout).
const DefaultTimeout = 30 * time.Second

// The errors a client's calls return match these sentinels (the protocol's,
// which the registry package re-exports under the same names) with
// errors.Is, locally and across nodes.
var (
	// ErrClosed: the client was closed, or the registry has stopped.
	ErrClosed = messages.ErrClosed
	// ErrUnavailable: the registry's node could not be reached, or went
	// away during the call.
	ErrUnavailable = messages.ErrUnavailable
	// ErrTimeout: a deadline passed first; also matches
	// context.DeadlineExceeded.
	ErrTimeout = messages.ErrTimeout
	// ErrCanceled: the caller's context was cancelled; also matches
	// context.Canceled.
	ErrCanceled = messages.ErrCanceled
	// ErrInvalidArgument: a nil PID, func or resolver, or a malformed
	// request.
	ErrInvalidArgument = messages.ErrInvalidArgument
	// ErrLimitExceeded: a request larger than a node accepts, or a Query's
	// result beyond its limits (nothing is returned then).
	ErrLimitExceeded = messages.ErrLimitExceeded
	// ErrPermissionDenied: the registry's node refused the request (its
	// policy does not grant it to this node); nothing was done.
	ErrPermissionDenied = messages.ErrPermissionDenied
	// ErrQuotaExceeded: a per-peer cap of the registry's node was reached
	// (counts, owners, callbacks or statements in flight); nothing was done.
	ErrQuotaExceeded = messages.ErrQuotaExceeded
	// ErrOverloaded: every query worker of the database was busy and its
	// queue full; the statement was not run.
	ErrOverloaded = messages.ErrOverloaded
	// ErrQuery: the server refused or failed a Query's or Exec's statement;
	// the error carries the server's message (and SQLSTATE), never a
	// password.
	ErrQuery = messages.ErrQuery
	// ErrNotConnected: a Query or Exec on a database with no open pool.
	ErrNotConnected = messages.ErrNotConnected
	// ErrUnknownDatabase: the registry has no database of that name.
	ErrUnknownDatabase = messages.ErrUnknownDatabase
	// ErrInternal: a bug in dbactor.
	ErrInternal = messages.ErrInternal
	// ErrMigration: a set of migrations failed (every *MigrationError
	// matches it); package migrate's local errors match it too.
	ErrMigration = messages.ErrMigration
	// ErrUnsupported: the registry cannot do this, e.g. it serves no
	// migrations (package migrate's Serve was not called on its node).
	ErrUnsupported = messages.ErrUnsupported
)

// ConnectError is one database's connect failure; see messages.ConnectError.
type ConnectError = messages.ConnectError

// DisconnectError is one database's disconnect failure.
type DisconnectError = messages.DisconnectError

// SchemaError is a schema operation that failed on one database.
type SchemaError = messages.SchemaError

// MigrationError is one set of migrations that failed on the registry's
// node; see messages.MigrationError.
type MigrationError = messages.MigrationError
