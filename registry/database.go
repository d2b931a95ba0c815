package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

// Database is a handle on one database of a registry (Edgy's databasez
// Database). Its actor owns the pool; the handle asks the actor to connect
// and disconnect, and hands out the pool itself so queries never pass
// through a mailbox. Safe for use from any goroutine.
type Database struct {
	name  string
	state *actors.State
	// owner is the registry actor that owns the database: requests go there
	// when the database actor is gone (its tree stopped).
	owner *actor.PID
	// ownerGate is the gate of the registry that owns the database: its
	// Close closes the database for every registry sharing it.
	ownerGate *request.Gate
	caller    *request.Caller
}

// Name is the database's name in this registry: "" for the main database.
func (d *Database) Name() string { return d.name }

// Dialect is client.Postgres or client.SQLite.
func (d *Database) Dialect() client.Dialect { return client.Dialect(d.state.Dialect()) }

// URL is the configured URL with its password replaced by "xxxxx".
func (d *Database) URL() string { return d.state.RedactedURL() }

// String describes the database without its password.
func (d *Database) String() string {
	return fmt.Sprintf("dbactor.Database{name=%q dialect=%s url=%s}", d.name, d.Dialect(), d.URL())
}

// PID is the database actor's PID: send it messages.Connect, Disconnect and
// GetStatus directly.
func (d *Database) PID() *actor.PID { return d.state.PID() }

// Pool is the database's *pgxpool.Pool while it is connected; nil when it is
// closed and for SQLite. The pool belongs to the database actor: do not
// close it, disconnect instead. A pool obtained before the last disconnect is
// closed by it.
func (d *Database) Pool() *pgxpool.Pool { return d.state.Pool() }

// DB is the database's *sql.DB while it is connected (for PostgreSQL, one
// built on Pool by stdlib.OpenDBFromPool); nil when it is closed. Like Pool,
// it belongs to the database actor: do not close it.
func (d *Database) DB() *sql.DB { return d.state.DB() }

// Connect raises the ref count. Only the first connect (0 → 1) opens and
// pings the pool and reports true; later ones only count. On failure the
// count is unchanged and the error is a *ConnectError. If ctx is cancelled
// while the connect is under way, the count it took is given back.
func (d *Database) Connect(ctx context.Context) (bool, error) {
	return request1(ctx, d, func(t *messages.Target) ops.Op[bool] {
		op := ops.Connect(d.name, t, nil)
		op.Undo = func() any { return &messages.Disconnect{Target: ops.Target(d.state.Name())} }
		op.UndoTo = d.owner
		return op
	})
}

// Disconnect lowers the ref count; the last disconnect (1 → 0) closes the
// pool, waiting until every acquired connection is released (bounded by
// ctx), and reports true. At 0 the count stays 0 and it reports false.
func (d *Database) Disconnect(ctx context.Context) (bool, error) { return d.disconnect(ctx, false) }

// ForceDisconnect sets the ref count to 0 and closes the pool if it is open
// (reporting true). The database can be connected again afterwards.
func (d *Database) ForceDisconnect(ctx context.Context) (bool, error) { return d.disconnect(ctx, true) }

func (d *Database) disconnect(ctx context.Context, force bool) (bool, error) {
	return request1(ctx, d, func(t *messages.Target) ops.Op[bool] { return ops.Disconnect(d.name, t, force, nil) })
}

// Status is a database's state at one moment (see client.Status).
type Status = client.Status

// Status asks the database actor for its state.
func (d *Database) Status(ctx context.Context) (Status, error) {
	s, err := request1(ctx, d, func(t *messages.Target) ops.Op[*messages.Status] { return ops.Status(d.name, t) })
	if err != nil {
		return Status{}, err
	}
	return client.StatusOf(s), nil
}

// request1 runs an operation on the database actor directly. If that actor
// is gone (a dead letter: nothing was done), it asks the owning registry
// instead, which answers for the database or that it is closed.
func request1[T any](ctx context.Context, d *Database, op func(target *messages.Target) ops.Op[T]) (T, error) {
	v, err := ops.Do(ctx, d.caller, d.state.PID(), op(nil))
	for range 3 {
		if !errors.Is(err, request.ErrNoActor) {
			break
		}
		v, err = ops.Do(ctx, d.caller, d.owner, op(ops.Target(d.state.Name())))
	}
	return v, err
}
