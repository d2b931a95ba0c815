package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
)

// defaultMaxAttached is SQLITE_MAX_ATTACHED as modernc.org/sqlite v1.62.0
// compiles it (SQLite's default); the first CreateSchema reads the real
// value from PRAGMA compile_options.
const defaultMaxAttached = 10

// DB is a SQLite database with PostgreSQL-like schemas: a pool whose every
// connection has every schema attached. Its methods are safe for concurrent
// use, with each other and with queries on the pool.
type DB struct {
	db     *sql.DB
	conns  *connector
	memory bool
	dir    string // the schema directory of a file database, absolute; "" for memory

	// mu serialises CreateSchema, DropSchema and Schemas (and so every
	// change of snap). Connections read snap without it.
	mu   sync.Mutex
	snap atomic.Pointer[snapshot]
	gen  uint64 // memory databases: the last generation handed out (under mu)
	// seen is the version file's stamp as of the set in snap (file
	// databases): a connection handed out compares it with the file's.
	seen        atomic.Pointer[stamp]
	vw          versionWatch // how connections check the version file
	versionPath string       // the version file's path

	maxAttached atomic.Int64 // 0 until read from the driver
	closed      atomic.Bool

	// echo, when set, sees every statement (SetEcho).
	echo func(ctx context.Context, query string, args int, took time.Duration, err error)
	// onError, when set, sees every statement that failed (SetOnError).
	onError func(error)
}

// SetOnError makes every statement run through the pool that fails call
// fn with its error; a success does not call it. Call it before the pool
// is used.
func (d *DB) SetOnError(fn func(error)) { d.onError = fn }

// failed tells onError of err, if both are set.
func (d *DB) failed(err error) {
	if err != nil && d.onError != nil {
		d.onError(err)
	}
}

// SetEcho makes every statement run through the pool call fn afterwards
// (prepared statements at each execution; a failed prepare with args -1).
// Call it before the pool is used.
func (d *DB) SetEcho(fn func(ctx context.Context, query string, args int, took time.Duration, err error)) {
	d.echo = fn
}

// snapshot is the schema set at one version. It is never modified once
// published.
type snapshot struct {
	version uint64
	byKey   map[string]*schema
}

// Open opens cfg with modernc.org/sqlite through a driver.Connector of ours, so
// every pooled connection has every schema of the set attached before it is used.
//
// For a file database it reads the schema directory beside the file (see
// the package documentation); it opens no connection: the caller pings.
// Pool settings are those the database actor always used: MaxOpenConns from
// cfg, and for a memory database one connection that is never closed while
// idle (closing it would destroy the database).
func Open(cfg *dsn.SQLiteConfig) (*DB, error) {
	if cfg == nil {
		return nil, &Error{Op: OpOpen, Kind: messages.ErrInvalidConfig, Message: "cannot open SQLite database: no configuration"}
	}
	base, err := msqlite.NewConnector(cfg.DSN)
	if err != nil {
		return nil, &Error{Op: OpOpen, Kind: messages.ErrInvalidConfig, Message: "cannot open SQLite database", Err: err}
	}
	d := &DB{memory: cfg.Memory}
	set := map[string]*schema{}
	if !cfg.Memory {
		if d.dir, err = schemasDir(cfg.Path); err != nil {
			return nil, failed(OpOpen, "", err)
		}
		d.versionPath = filepath.Join(d.dir, versionName)
		d.openWatch()
		var st stamp
		if set, st, err = d.readDir(); err != nil {
			d.closeVersion()
			return nil, &Error{Op: OpOpen, Kind: messages.ErrSchema, Err: err,
				Message: "cannot open SQLite database: cannot read its schema directory"}
		}
		if !st.ok && len(set) > 0 {
			// Schemas made by a dbactor that kept no version file: start
			// one, so that checks need not look for it by path every time.
			// Best effort (a read-only directory keeps looking).
			if unlock, err := lockDir(d.dir, true); err == nil {
				if !readVersion(d.versionPath).ok {
					_ = bumpVersion(d.versionPath)
				}
				unlock()
				st = d.statVersion()
			}
		}
		d.seen.Store(&st)
	}
	d.snap.Store(&snapshot{version: 1, byKey: set})
	d.conns = &connector{base: base, owner: d}
	d.db = sql.OpenDB(d.conns)
	if n := cfg.MaxOpenConns; n > 0 {
		d.db.SetMaxOpenConns(n)
	}
	if cfg.Memory {
		// Closing the only connection of a memory database destroys it.
		d.db.SetMaxIdleConns(1)
		d.db.SetConnMaxLifetime(0)
		d.db.SetConnMaxIdleTime(0)
	}
	return d, nil
}

// SQL is the pool. Every connection it hands out has the schema set
// attached as of the moment it was handed out.
func (d *DB) SQL() *sql.DB { return d.db }

// Close closes the pool (sql.DB.Close). Schema files stay on disk; the
// schemas of a memory database are gone with it.
func (d *DB) Close() error {
	d.closed.Store(true)
	err := d.db.Close()
	d.closeVersion()
	return err
}

// HasSchema reports whether name is a schema of the set, compared as SQLite
// compares schema names (ASCII case-insensitively). "main" is always there;
// "temp" is not a schema here. Like a connection handed out by the pool, it
// first catches up with changes other DBs or processes made (one stat(2)
// when there are none); if the directory cannot be read it answers from the
// set it has.
func (d *DB) HasSchema(name string) bool {
	key := foldKey(name)
	if key == mainSchema {
		return true
	}
	_ = d.refresh()
	_, ok := d.snap.Load().byKey[key]
	return ok
}

// Schemas lists "main" first, then every schema sorted by name, in the
// spelling it was created with. For a file database it reads the schema
// directory, so it also sees schemas other processes created or dropped
// (and brings this DB's pool in step with them).
func (d *DB) Schemas(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, failed(OpList, "", err)
	}
	if d.closed.Load() {
		return nil, errClosed(OpList, "")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.memory {
		if err := d.rescan(); err != nil {
			return nil, failed(OpList, "", err)
		}
	}
	snap := d.snap.Load()
	names := make([]string, 0, len(snap.byKey))
	for _, s := range snap.byKey {
		names = append(names, s.name)
	}
	slices.Sort(names)
	return append([]string{mainSchema}, names...), nil
}

// readDir reads the schema directory, and the stamp of its version file,
// under a shared lock. The stamp is read first: a change made without the
// lock (no flock) between the two reads makes the stamp older than the set,
// which costs one needless rescan, never a missed change.
func (d *DB) readDir() (map[string]*schema, stamp, error) {
	unlock, err := lockDir(d.dir, false)
	if errors.Is(err, fs.ErrNotExist) { // no directory, no schemas
		return map[string]*schema{}, d.statVersion(), nil
	}
	if err != nil {
		return nil, stamp{}, err
	}
	defer unlock()
	st := d.statVersion()
	set, err := scanDir(d.dir)
	return set, st, err
}

// refresh brings the set in step with the directory when another DB or
// process changed it: the version file's stamp differs from the one seen.
// It runs whenever database/sql hands out a connection, so the common case
// is one stat(2) and no lock.
func (d *DB) refresh() error {
	if d.memory {
		return nil
	}
	if d.statVersion() == *d.seen.Load() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.statVersion() == *d.seen.Load() { // someone else caught up meanwhile
		return nil
	}
	if err := d.rescan(); err != nil {
		return failed(OpRefresh, "", err)
	}
	return nil
}

// changed records a change this DB made to the set in the version file,
// so that other DBs and processes see it, and remembers the new stamp, so
// that this DB does not read the directory again for its own change. Call
// with mu and the exclusive directory lock held, after the change. Best
// effort: the change is made either way (a directory where the schema file
// could be made or deleted takes the version file too).
func (d *DB) changed() {
	_ = bumpVersion(d.versionPath)
	st := d.statVersion()
	d.seen.Store(&st)
}

// rescan reads the schema directory under a shared lock and adopts what it
// holds: the directory is the source of truth. Call with mu held.
func (d *DB) rescan() error {
	set, st, err := d.readDir()
	if err != nil {
		return err
	}
	d.adopt(set)
	d.seen.Store(&st)
	return nil
}

// rescanLocked is rescan for a caller already holding the exclusive
// directory lock (flock locks of two open files conflict, even in one
// process, so it must not lock again).
func (d *DB) rescanLocked() error {
	st := d.statVersion()
	set, err := scanDir(d.dir)
	if err != nil {
		return err
	}
	d.adopt(set)
	d.seen.Store(&st)
	return nil
}

// adopt publishes set if it differs from the current one. Call with mu
// held, and with the directory lock if set came from disk.
func (d *DB) adopt(set map[string]*schema) {
	cur := d.snap.Load()
	same := len(set) == len(cur.byKey)
	for key, s := range set {
		if c, ok := cur.byKey[key]; !ok || c.gen != s.gen || c.name != s.name {
			same = false
			break
		}
	}
	if !same {
		d.publish(set)
	}
}

// publish makes set the current set, at a new version: connections catch
// up before their next use. Call with mu held.
func (d *DB) publish(set map[string]*schema) *snapshot {
	snap := &snapshot{version: d.snap.Load().version + 1, byKey: set}
	d.snap.Store(snap)
	return snap
}

// limit is how many databases a connection can attach.
func (d *DB) limit() int {
	if n := d.maxAttached.Load(); n > 0 {
		return int(n)
	}
	return defaultMaxAttached
}

// learnLimit reads SQLITE_MAX_ATTACHED from the driver once.
func (d *DB) learnLimit(c *conn) {
	if d.maxAttached.Load() > 0 {
		return
	}
	opts, err := queryStrings(c, "PRAGMA compile_options")
	if err != nil {
		return
	}
	for _, o := range opts {
		if v, ok := strings.CutPrefix(o, "MAX_ATTACHED="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				d.maxAttached.Store(int64(n))
			}
			return
		}
	}
	d.maxAttached.Store(defaultMaxAttached)
}

// queryStrings runs query on c's driver connection and returns the first
// column of every row as text.
func queryStrings(c *conn, query string) ([]string, error) {
	rows, err := c.inner.QueryContext(context.Background(), query, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(dest); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		switch v := dest[0].(type) {
		case string:
			out = append(out, v)
		case []byte:
			out = append(out, string(v))
		case int64:
			out = append(out, strconv.FormatInt(v, 10))
		default:
			out = append(out, "")
		}
	}
}
