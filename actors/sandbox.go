package actors

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
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

// ErrSandboxReset: the sandbox's connection broke (a statement cancelled by
// its context closes a PostgreSQL connection): everything the sandbox held
// is gone, and the next operation starts a new one.
var ErrSandboxReset = errors.New("rollback sandbox reset: its connection broke, so what earlier operations wrote is gone")

// sandbox is databasez's force_rollback: one connection, one transaction
// that is never committed, begun on first use and rolled back when the
// pool closes. Operations take turns on it, each inside a savepoint so that
// a failed one does not abort the transaction for the next.
type sandbox struct {
	turn   chan struct{} // holding the one slot is holding the sandbox
	db     *sql.DB
	conn   *sql.Conn // these three: only while holding turn
	tx     *sql.Tx
	closed bool
	n      atomic.Uint64 // savepoints handed out
}

func newSandbox(db *sql.DB) *sandbox { return &sandbox{db: db, turn: make(chan struct{}, 1)} }

// frame is an operation running in a sandbox. Operations nested in it (fn
// calling InSandbox with the ctx it was given, from any goroutine) take
// turns on its own slot: they run inside it, one at a time.
type frame struct {
	sb   *sandbox
	turn chan struct{}
}

type inSandbox struct{}

func take(ctx context.Context, turn chan struct{}) error {
	select {
	case turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the rollback sandbox: %w", ctx.Err())
	}
}

// ForceRollback reports whether the database runs Run's operations in a
// rollback sandbox.
func (s *State) ForceRollback() bool { return s.forceRollback }

// InSandbox runs fn on the sandbox transaction, inside a savepoint that is
// released when fn succeeds and rolled back when it fails or panics. It
// fails when the database has no open sandbox (not connected, or no
// force-rollback database). Operations take turns, waiting at most until
// ctx ends; one nested in another (given the ctx fn got) runs inside it on
// a savepoint of its own.
func (s *State) InSandbox(ctx context.Context, fn func(context.Context, Querier) error) error {
	sb := s.sb.Load()
	if sb == nil {
		return ErrSandboxClosed
	}
	if f, ok := ctx.Value(inSandbox{}).(*frame); ok && f.sb == sb {
		if err := take(ctx, f.turn); err != nil {
			return err
		}
		defer func() { <-f.turn }()
		return sb.savepoint(ctx, fn)
	}
	if err := take(ctx, sb.turn); err != nil {
		return err
	}
	defer func() { <-sb.turn }()
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
	err := sb.savepoint(ctx, fn)
	if broken(err) {
		sb.reset()
		return fmt.Errorf("%w: %w", ErrSandboxReset, err)
	}
	return err
}

// broken reports an error after which the sandbox transaction is unusable.
func broken(err error) bool {
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrTxDone) || errors.Is(err, sql.ErrConnDone)
}

// savepoint runs fn in a savepoint of the transaction, with a frame of its
// own for operations nested in it. Called holding the sandbox's turn or
// the enclosing frame's.
func (sb *sandbox) savepoint(ctx context.Context, fn func(context.Context, Querier) error) (err error) {
	sp := fmt.Sprintf("dbactor_run_%d", sb.n.Add(1))
	if _, err := sb.tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
		return err
	}
	undo := func() error {
		bg := context.WithoutCancel(ctx)
		if _, err := sb.tx.ExecContext(bg, "ROLLBACK TO SAVEPOINT "+sp); err != nil {
			return err
		}
		_, err := sb.tx.ExecContext(bg, "RELEASE SAVEPOINT "+sp)
		return err
	}
	done := false
	defer func() {
		if !done { // fn panicked
			_ = undo()
		}
	}()
	err = fn(context.WithValue(ctx, inSandbox{}, &frame{sb: sb, turn: make(chan struct{}, 1)}), sb.tx)
	done = true
	if err != nil {
		if uerr := undo(); uerr != nil {
			return errors.Join(err, uerr)
		}
		return err
	}
	_, err = sb.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp)
	return err
}

// reset drops a broken transaction and its connection. Called holding turn.
func (sb *sandbox) reset() {
	if sb.tx != nil {
		_ = sb.tx.Rollback()
		_ = sb.conn.Close()
		sb.tx, sb.conn = nil, nil
	}
}

// close rolls everything back and gives the connection back to the pool,
// waiting for an operation under way.
func (sb *sandbox) close() {
	sb.turn <- struct{}{}
	defer func() { <-sb.turn }()
	sb.closed = true
	sb.reset()
}
