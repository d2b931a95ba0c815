package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dbactor/dbactor/internal/ident"
)

// CreateSchema creates schema name: a new database file beside the main
// file (a new in-memory database for a memory database), attached at once
// to the connection running the call and to every other pooled connection
// before its next use.
//
// Errors: an invalid name is the *ident.Error (messages.ErrInvalidName),
// before anything touches the disk. Otherwise an *Error:
// `schema "x" already exists` (messages.ErrSchema; nil with ifNotExists),
// also for "main" and for a name differing from an existing one only in
// ASCII case, as SQLite compares them; "temp" and a schema beyond SQLite's
// attach limit are messages.ErrUnsupported; a read-only database or a file
// that cannot be created is messages.ErrSchema with the cause wrapped. A
// failed call leaves nothing behind.
//
// It runs on a connection of the pool, like a query: with a memory
// database (one connection) a caller holding that connection (a sql.Conn,
// a sql.Tx) waits until ctx ends. DropSchema likewise.
func (d *DB) CreateSchema(ctx context.Context, name string, ifNotExists bool) error {
	if err := ident.Validate("schema", name); err != nil {
		return err
	}
	switch foldKey(name) {
	case mainSchema:
		if ifNotExists {
			return nil
		}
		return errExists(OpCreate, name)
	case tempSchema:
		return errReserved(OpCreate, name)
	}
	return d.withConn(ctx, OpCreate, name, func(c *conn) error {
		if c.readOnly {
			return errReadOnly(OpCreate, name)
		}
		if !d.memory {
			if err := os.MkdirAll(d.dir, 0o755); err != nil {
				return failed(OpCreate, name, err)
			}
			unlock, err := lockDir(d.dir, true)
			if err != nil {
				return failed(OpCreate, name, err)
			}
			defer unlock()
			removeOrphans(d.dir)
			if err := d.rescanLocked(); err != nil {
				return failed(OpCreate, name, err)
			}
		}
		if err := c.sync(); err != nil {
			return err
		}
		snap := d.snap.Load()
		if _, ok := snap.byKey[foldKey(name)]; ok {
			if ifNotExists {
				return nil
			}
			return errExists(OpCreate, name)
		}
		d.learnLimit(c)
		if len(snap.byKey) >= d.limit() {
			return errLimit(OpCreate, name, d.limit(), nil)
		}
		s, err := d.newSchema(name)
		if err != nil {
			return failed(OpCreate, name, err)
		}
		if err := c.attachNew(s); err != nil {
			if s.file != memoryFile {
				_ = removeSchemaFile(s.file)
			}
			return err
		}
		set := maps.Clone(snap.byKey)
		set[s.key] = s
		c.version = d.publish(set).version // c has exactly this set now
		if !d.memory {
			d.changed()
		}
		return nil
	})
}

// newSchema makes the database of a new schema: for a file database, an
// empty file (a valid empty SQLite database) created exclusively, so an
// existing file is never reused.
func (d *DB) newSchema(name string) (*schema, error) {
	s := &schema{name: name, key: foldKey(name)}
	if d.memory {
		d.gen++
		s.file, s.gen = memoryFile, strconv.FormatUint(d.gen, 10)
		return s, nil
	}
	gen, err := newGen()
	if err != nil {
		return nil, err
	}
	s.gen, s.file = gen, filepath.Join(d.dir, schemaFileName(name, gen))
	f, err := os.OpenFile(s.file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return s, f.Close()
}

// attachNew attaches a schema being created to c. A main database in WAL
// mode gets its schemas in WAL mode too (journal_mode=WAL is stored in the
// file, so once is enough), so readers and writers of a schema do not block
// each other any more than on main.
func (c *conn) attachNew(s *schema) error {
	if err := c.attach(s); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Op == OpAttach {
			e.Op, e.Message = OpCreate, strings.Replace(e.Message, "cannot "+OpAttach, "cannot "+OpCreate, 1)
		}
		return err
	}
	if _, ok := c.attached[s.key]; !ok { // attach skipped it: the file vanished
		return failed(OpCreate, s.name, fs.ErrNotExist)
	}
	if s.file == memoryFile {
		return nil
	}
	mode, err := queryStrings(c, "PRAGMA main.journal_mode")
	if err == nil && len(mode) == 1 && mode[0] == "wal" {
		_, err = queryStrings(c, "PRAGMA "+ident.Quote(s.name)+".journal_mode=WAL")
	}
	if err != nil {
		_ = c.detach(s)
		return failed(OpCreate, s.name, err)
	}
	return nil
}

// DropSchema drops schema name: it is detached from the connection running
// the call at once and from every other pooled connection before its next
// use, then its file (and -journal/-wal/-shm siblings) is deleted. A
// connection in use elsewhere at that moment (a sql.Conn, a sql.Tx, a
// statement under way) keeps the old attachment until it goes back to the
// pool: it still reads the dropped contents, and a write there fails
// (SQLite refuses to write to an unlinked file: "attempt to write a
// readonly database", or "disk I/O error" for a transaction whose journal
// was deleted). No other schema is affected: every creation gets a file of
// its own.
//
// Without cascade a schema holding any table, view, index or trigger is
// not dropped: `cannot drop schema x because other objects depend on it`
// (messages.ErrSchema). With cascade its objects go with it. A schema that
// does not exist is `schema "x" does not exist` (messages.ErrSchema; nil
// with ifExists). "main" and "temp" cannot be dropped
// (messages.ErrUnsupported); a read-only database is messages.ErrSchema.
func (d *DB) DropSchema(ctx context.Context, name string, ifExists, cascade bool) error {
	if err := ident.Validate("schema", name); err != nil {
		return err
	}
	switch foldKey(name) {
	case mainSchema, tempSchema:
		return errReserved(OpDrop, name)
	}
	return d.withConn(ctx, OpDrop, name, func(c *conn) error {
		if c.readOnly {
			return errReadOnly(OpDrop, name)
		}
		if !d.memory {
			unlock, err := lockDir(d.dir, true)
			switch {
			case errors.Is(err, fs.ErrNotExist): // no directory: no schemas
				d.adopt(map[string]*schema{})
			case err != nil:
				return failed(OpDrop, name, err)
			default:
				defer unlock()
				removeOrphans(d.dir)
				if err := d.rescanLocked(); err != nil {
					return failed(OpDrop, name, err)
				}
			}
		}
		if err := c.sync(); err != nil {
			return err
		}
		snap := d.snap.Load()
		s, ok := snap.byKey[foldKey(name)]
		if !ok {
			if ifExists {
				return nil
			}
			return errMissing(OpDrop, name)
		}
		if _, ok := c.attached[s.key]; !ok {
			// Listed but not attachable: the file vanished under the lock.
			return failed(OpDrop, name, fs.ErrNotExist)
		}
		if !cascade {
			// User objects only: sqlite_sequence and sqlite_stat* stay
			// behind when their tables are dropped.
			objs, err := queryStrings(c, "SELECT count(*) FROM "+ident.Quote(s.name, "sqlite_master")+
				` WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
			if err != nil {
				return failed(OpDrop, name, err)
			}
			if len(objs) != 1 || objs[0] != "0" {
				return errDependents(name)
			}
		}
		if err := c.detach(s); err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Op, e.Message = OpDrop, "cannot drop schema "+quoted(name)
			}
			return err
		}
		if s.file != memoryFile {
			if err := removeSchemaFile(s.file); err != nil {
				_ = c.attach(s) // still on disk, so still a schema
				return failed(OpDrop, name, err)
			}
		}
		set := maps.Clone(snap.byKey)
		delete(set, s.key)
		c.version = d.publish(set).version // c has exactly this set now
		if !d.memory {
			d.changed()
		}
		return nil
	})
}

// withConn runs f on one pooled connection, brought in step with the set,
// with mu held. The connection is taken before mu, so no one waits for a
// connection while holding mu.
func (d *DB) withConn(ctx context.Context, op, name string, f func(c *conn) error) error {
	if d.closed.Load() {
		return errClosed(op, name)
	}
	sc, err := d.db.Conn(ctx)
	if err != nil {
		if d.closed.Load() {
			return errClosed(op, name)
		}
		return failed(op, name, err)
	}
	defer sc.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return failed(op, name, err)
	}
	return sc.Raw(func(dc any) error {
		c, ok := dc.(*conn)
		if !ok {
			return &Error{Op: op, Schema: name, Message: "cannot " + op + ": not a connection of this package"}
		}
		c.fresh = false
		return f(c)
	})
}
