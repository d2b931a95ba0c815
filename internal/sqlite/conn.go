package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/dbactor/dbactor/internal/ident"
)

// modernConn is what modernc.org/sqlite's connection implements (v1.62.0,
// sqlite.go, conn.go, dbstatus.go, fcntl.go, pre_update_hook.go, authorizer.go). conn
// forwards all of it, so database/sql, connection hooks and sql.Conn.Raw
// users lose nothing by the wrapping, except modernc's Exec and Query: the
// deprecated driver.Execer and driver.Queryer, which database/sql never
// calls on a connection with ExecContext and QueryContext. modernc
// implements no driver.NamedValueChecker, so neither does conn:
// database/sql's default argument conversion stays in force.
type modernConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	msqlite.DBStatus
	msqlite.FileControl
	msqlite.HookRegisterer
	msqlite.AuthorizerRegisterer
	ColumnInfo(query string) ([]msqlite.ColumnInfo, error)
	Serialize() ([]byte, error)
	Deserialize(buf []byte) error
	NewBackup(dstURI string) (*msqlite.Backup, error)
	NewRestore(srcURI string) (*msqlite.Backup, error)
	IsReadOnly(schema string) (bool, error)
}

// connector opens modernc connections and attaches the schema set to each.
type connector struct {
	base  driver.Connector
	owner *DB
}

// Connect opens a connection with every schema of the set attached.
func (k *connector) Connect(ctx context.Context) (driver.Conn, error) {
	ci, err := k.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := ci.(modernConn)
	if !ok { // a modernc.org/sqlite without the methods above
		_ = ci.Close()
		return nil, &Error{Op: OpOpen, Message: fmt.Sprintf("unsupported modernc.org/sqlite connection type %T", ci)}
	}
	ro, err := inner.IsReadOnly(mainSchema)
	if err != nil {
		_ = inner.Close()
		return nil, failed(OpOpen, "", err)
	}
	c := &conn{inner: inner, owner: k.owner, readOnly: ro, attached: map[string]*schema{}}
	if err := c.sync(); err != nil {
		_ = inner.Close()
		return nil, err
	}
	// database/sql may hand a new connection to a request other than the
	// one it was opened for, without ResetSession, after the set changed:
	// the first use catches up.
	c.fresh = true
	return c, nil
}

// Driver is modernc's driver, as for sql.Open("sqlite", …).
func (k *connector) Driver() driver.Driver { return k.base.Driver() }

// conn is a modernc connection that keeps the schema set attached. It
// catches up with the set (detaching dropped schemas, attaching new ones)
// whenever database/sql hands it out: in ResetSession when it is reused, in
// its first operation when it is new. Both run before the user's first
// statement and with no statement or transaction of the user open, so
// ATTACH/DETACH always succeed and a statement never sees a half-changed
// set. A connection held by a sql.Conn or a sql.Tx keeps the set it had
// until it goes back to the pool.
//
// database/sql uses a driver.Conn from one goroutine at a time, so the
// fields need no lock.
type conn struct {
	inner    modernConn
	owner    *DB
	readOnly bool               // main is read-only: attach read-only too
	fresh    bool               // not used yet: catch up before the first operation
	version  uint64             // the set version attached is in step with
	attached map[string]*schema // by key: what is attached now
}

// sync brings the connection in step with the owner's current set. It
// records each ATTACH/DETACH as it succeeds, so after a failure the record
// is still true and the next sync retries the rest.
func (c *conn) sync() error {
	snap := c.owner.snap.Load()
	if snap.version == c.version {
		return nil
	}
	// Detach first: it frees attach slots for what comes next.
	for key, a := range c.attached {
		if s, ok := snap.byKey[key]; ok && s.gen == a.gen {
			continue
		}
		if err := c.detach(a); err != nil {
			return err
		}
	}
	for key, s := range snap.byKey {
		if _, ok := c.attached[key]; ok {
			continue
		}
		if err := c.attach(s); err != nil {
			return err
		}
	}
	c.version = snap.version
	return nil
}

// attach attaches s. A file that is gone was dropped by another process
// since the set was read: it is skipped (mode=rw will not re-create it), so
// the schema is simply missing on this connection, as on disk.
func (c *conn) attach(s *schema) error {
	_, err := c.inner.ExecContext(context.Background(), "ATTACH DATABASE ? AS "+ident.Quote(s.name),
		[]driver.NamedValue{{Ordinal: 1, Value: attachURI(s, c.readOnly)}})
	if err != nil {
		if s.file != memoryFile {
			if _, serr := os.Stat(s.file); errors.Is(serr, fs.ErrNotExist) {
				return nil
			}
		}
		if n, ok := tooManyAttached(err); ok {
			return errLimit(OpAttach, s.name, n, err)
		}
		return failed(OpAttach, s.name, err)
	}
	c.attached[s.key] = s
	return nil
}

// detach detaches a.
func (c *conn) detach(a *schema) error {
	if _, err := c.inner.ExecContext(context.Background(), "DETACH DATABASE "+ident.Quote(a.name), nil); err != nil {
		return failed(OpDetach, a.name, err)
	}
	delete(c.attached, a.key)
	return nil
}

// tooManyAttached recognises SQLite's "too many attached databases - max N"
// and returns N.
func tooManyAttached(err error) (limit int, ok bool) {
	const text = "too many attached databases - max "
	_, after, found := strings.Cut(err.Error(), text)
	if !found {
		return 0, false
	}
	end := 0
	for end < len(after) && '0' <= after[end] && after[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(after[:end])
	if err != nil {
		n = defaultMaxAttached
	}
	return n, true
}

// catchUp runs sync before the first operation of a new connection. A
// failure is reported as driver.ErrBadConn (nothing ran yet), so
// database/sql discards the connection and retries on another.
func (c *conn) catchUp() error {
	if !c.fresh {
		return nil
	}
	c.fresh = false
	return badConn(c.refreshAndSync())
}

// refreshAndSync first takes in what other DBs or processes changed in
// the schema directory (DB.refresh: one stat(2) when nothing changed), then
// brings the connection in step with the set.
func (c *conn) refreshAndSync() error {
	if err := c.owner.refresh(); err != nil {
		return err
	}
	return c.sync()
}

func badConn(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
}

// ResetSession is called by database/sql before it reuses the connection:
// it catches up with the set. Only driver.ErrBadConn counts there (other
// errors are ignored), so a connection that cannot catch up is discarded.
func (c *conn) ResetSession(ctx context.Context) error {
	if err := c.inner.ResetSession(ctx); err != nil {
		return err
	}
	c.fresh = false
	return badConn(c.refreshAndSync())
}

// IsValid implements driver.Validator.
func (c *conn) IsValid() bool { return c.inner.IsValid() }

// Close implements driver.Conn.
func (c *conn) Close() error { return c.inner.Close() }

// Prepare implements driver.Conn.
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	if err := c.catchUp(); err != nil {
		return nil, err
	}
	st, err := c.inner.Prepare(query)
	return c.wrapStmt(st, query, err)
}

// Begin implements driver.Conn.
func (c *conn) Begin() (driver.Tx, error) {
	if err := c.catchUp(); err != nil {
		return nil, err
	}
	tx, err := c.inner.Begin() //nolint:staticcheck // forwarded as is
	return wrapTx(tx, err)
}

// BeginTx implements driver.ConnBeginTx.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.catchUp(); err != nil {
		return nil, err
	}
	return wrapTx(c.inner.BeginTx(ctx, opts))
}

// schemaTx is a transaction whose commit reports a schema dropped under
// it as a typed error (errDropped).
type schemaTx struct{ driver.Tx }

func wrapTx(tx driver.Tx, err error) (driver.Tx, error) {
	if err != nil {
		return nil, errDropped(err)
	}
	return schemaTx{tx}, nil
}

// Commit implements driver.Tx.
func (t schemaTx) Commit() error { return errDropped(t.Tx.Commit()) }

// PrepareContext implements driver.ConnPrepareContext. With echo on, the
// statement echoes each execution.
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.catchUp(); err != nil {
		return nil, err
	}
	st, err := c.inner.PrepareContext(ctx, query)
	if err != nil && c.owner.echo != nil {
		c.owner.echo(ctx, query, -1, 0, err)
	}
	return c.wrapStmt(st, query, err)
}

// wrapStmt wraps a prepared statement so that its executions report a
// schema dropped under the connection as a typed error and, with echo on,
// are echoed.
func (c *conn) wrapStmt(st driver.Stmt, query string, err error) (driver.Stmt, error) {
	if err != nil {
		return st, errDropped(err)
	}
	es, ok := st.(echoable)
	if !ok {
		return st, nil
	}
	return &echoStmt{echoable: es, query: query, echo: c.owner.echo}, nil
}

// echoable is what modernc's statements implement.
type echoable interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// echoStmt is a prepared statement that echoes each execution (when echo
// is set) and reports a schema dropped under it as a typed error.
type echoStmt struct {
	echoable
	query string
	echo  func(ctx context.Context, query string, args int, took time.Duration, err error)
}

// ExecContext implements driver.StmtExecContext.
func (s *echoStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.echo == nil {
		r, err := s.echoable.ExecContext(ctx, args)
		return r, errDropped(err)
	}
	start := time.Now()
	r, err := s.echoable.ExecContext(ctx, args)
	s.echo(ctx, s.query, len(args), time.Since(start), err)
	return r, errDropped(err)
}

// QueryContext implements driver.StmtQueryContext.
func (s *echoStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.echo == nil {
		r, err := s.echoable.QueryContext(ctx, args)
		return r, errDropped(err)
	}
	start := time.Now()
	r, err := s.echoable.QueryContext(ctx, args)
	s.echo(ctx, s.query, len(args), time.Since(start), err)
	return r, errDropped(err)
}

// ExecContext implements driver.ExecerContext.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.catchUp(); err != nil {
		return nil, err
	}
	if c.owner.echo == nil {
		r, err := c.inner.ExecContext(ctx, query, args)
		c.owner.failed(err)
		return r, errDropped(err)
	}
	start := time.Now()
	r, err := c.inner.ExecContext(ctx, query, args)
	c.owner.echo(ctx, query, len(args), time.Since(start), err)
	c.owner.failed(err)
	return r, errDropped(err)
}

// QueryContext implements driver.QueryerContext.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.catchUp(); err != nil {
		return nil, err
	}
	if c.owner.echo == nil {
		r, err := c.inner.QueryContext(ctx, query, args)
		c.owner.failed(err)
		return r, errDropped(err)
	}
	start := time.Now()
	r, err := c.inner.QueryContext(ctx, query, args)
	c.owner.echo(ctx, query, len(args), time.Since(start), err)
	c.owner.failed(err)
	return r, errDropped(err)
}

// Ping implements driver.Pinger.
func (c *conn) Ping(ctx context.Context) error {
	if err := c.catchUp(); err != nil {
		return err
	}
	return c.inner.Ping(ctx)
}

// Status implements sqlite.DBStatus.
func (c *conn) Status(op msqlite.DBStatusOp, reset bool) (current, high int, err error) {
	return c.inner.Status(op, reset)
}

// FileControlPersistWAL implements sqlite.FileControl.
func (c *conn) FileControlPersistWAL(dbName string, mode int) (int, error) {
	return c.inner.FileControlPersistWAL(dbName, mode)
}

// FileControlDataVersion implements sqlite.FileControl.
func (c *conn) FileControlDataVersion(dbName string) (uint32, error) {
	return c.inner.FileControlDataVersion(dbName)
}

// RegisterPreUpdateHook implements sqlite.HookRegisterer.
func (c *conn) RegisterPreUpdateHook(fn msqlite.PreUpdateHookFn) { c.inner.RegisterPreUpdateHook(fn) }

// RegisterCommitHook implements sqlite.HookRegisterer.
func (c *conn) RegisterCommitHook(fn msqlite.CommitHookFn) { c.inner.RegisterCommitHook(fn) }

// RegisterRollbackHook implements sqlite.HookRegisterer.
func (c *conn) RegisterRollbackHook(fn msqlite.RollbackHookFn) { c.inner.RegisterRollbackHook(fn) }

// RegisterAuthorizer implements sqlite.AuthorizerRegisterer.
func (c *conn) RegisterAuthorizer(fn msqlite.AuthorizerFn) error {
	return c.inner.RegisterAuthorizer(fn)
}

// ColumnInfo forwards modernc's conn.ColumnInfo.
func (c *conn) ColumnInfo(query string) ([]msqlite.ColumnInfo, error) {
	return c.inner.ColumnInfo(query)
}

// Serialize forwards modernc's conn.Serialize (the main database).
func (c *conn) Serialize() ([]byte, error) { return c.inner.Serialize() }

// Deserialize forwards modernc's conn.Deserialize (the main database).
func (c *conn) Deserialize(buf []byte) error { return c.inner.Deserialize(buf) }

// NewBackup forwards modernc's conn.NewBackup.
func (c *conn) NewBackup(dstURI string) (*msqlite.Backup, error) { return c.inner.NewBackup(dstURI) }

// NewRestore forwards modernc's conn.NewRestore.
func (c *conn) NewRestore(srcURI string) (*msqlite.Backup, error) { return c.inner.NewRestore(srcURI) }

// IsReadOnly forwards modernc's conn.IsReadOnly.
func (c *conn) IsReadOnly(schema string) (bool, error) { return c.inner.IsReadOnly(schema) }

// Compile-time checks: conn is everything modernc's connection is.
var (
	_ modernConn                 = (*conn)(nil)
	_ msqlite.ExecQuerierContext = (*conn)(nil)
	_ driver.Connector           = (*connector)(nil)
)
