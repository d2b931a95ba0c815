package actors

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Querier is what runs SQL: *sql.DB, *sql.Conn and *sql.Tx all are one.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrSandboxClosed: the rollback sandbox was rolled back (the database's
// count reached 0) while an operation waited for it.
var ErrSandboxClosed = errors.New("rollback sandbox closed: the database was disconnected")

// sandbox is databasez's force_rollback: one connection, one transaction
// that is never committed, begun on first use and rolled back when the
// pool closes. Operations take turns on it (mu), each inside a savepoint so
// that a failed one does not abort the transaction for the next.
type sandbox struct {
	mu     sync.Mutex
	db     *sql.DB
	conn   *sql.Conn
	tx     *sql.Tx
	n      uint64 // savepoints handed out
	closed bool
}

// ForceRollback reports whether the database runs Run's operations in a
// rollback sandbox.
func (s *State) ForceRollback() bool { return s.forceRollback }

// InSandbox runs fn on the sandbox transaction, inside a savepoint that is
// released when fn succeeds and rolled back when it fails or panics. It
// fails when the database has no open sandbox (not connected, or no
// force-rollback database). Operations take turns; one nested in another
// (fn calling InSandbox with the ctx it was given) runs inside it, on a
// savepoint of its own, rather than waiting for it forever.
func (s *State) InSandbox(ctx context.Context, fn func(context.Context, Querier) error) error {
	sb := s.sb.Load()
	if sb == nil {
		return ErrSandboxClosed
	}
	if ctx.Value(inSandbox{}) == sb {
		return sb.savepoint(ctx, fn) // nested: the outer one holds mu
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.closed {
		return ErrSandboxClosed
	}
	if sb.tx == nil {
		var err error
		if sb.conn, err = sb.db.Conn(ctx); err != nil {
			return err
		}
		// Not ctx: the transaction lives until the pool closes, and
		// database/sql rolls a transaction back when its context ends.
		if sb.tx, err = sb.conn.BeginTx(s.life, nil); err != nil {
			_ = sb.conn.Close()
			sb.conn = nil
			return err
		}
	}
	return sb.savepoint(context.WithValue(ctx, inSandbox{}, sb), fn)
}

// inSandbox marks the context of an operation running in a sandbox.
type inSandbox struct{}

// savepoint runs fn in a savepoint of the transaction. Called with mu held
// (by this operation or the one it is nested in).
func (sb *sandbox) savepoint(ctx context.Context, fn func(context.Context, Querier) error) (err error) {
	sb.n++
	sp := fmt.Sprintf("dbactor_run_%d", sb.n)
	if _, err := sb.tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
		return err
	}
	done := false
	defer func() {
		if !done { // fn panicked
			_, _ = sb.tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+sp)
		}
	}()
	err = fn(ctx, sb.tx)
	done = true
	if err != nil {
		if _, rerr := sb.tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+sp); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err = sb.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp)
	return err
}

// close rolls everything back and gives the connection back to the pool,
// waiting for an operation under way.
func (sb *sandbox) close() {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.closed = true
	if sb.tx != nil {
		_ = sb.tx.Rollback()
		_ = sb.conn.Close()
	}
}
