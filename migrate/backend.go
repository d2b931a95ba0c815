package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the "sqlite" driver for the connections to schema files

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/registry"
)

// busyTimeout is how long a SQLite connection of the migrator waits for a
// lock held by another connection (the registry's, another process's).
const busyTimeout = 30 * time.Second

func isPostgres(d *registry.Database) bool { return d.Dialect() == client.Postgres }

// backend is how the sets of one database are reached and locked.
//
// PostgreSQL: every set runs on a *sql.DB of its own, made from the
// registry pool's connection configuration and closed after the set — the
// database's own set with the configured search_path, a tenant's with
// search_path set to the tenant alone — so a migration run never takes
// connections from the application's pool (a pool_size=1 pool would
// otherwise deadlock the lock's connection against goose's). Each set is
// locked with a session advisory lock whose key is derived from its schema
// and version table, held on a connection of that *sql.DB for the whole
// run of the set.
//
// SQLite: every set runs on a *sql.DB of its own on one file — the main
// database's file, or the tenant schema's attached file (found with PRAGMA
// database_list on the registry's pool) — so unqualified names resolve in
// that file and nowhere else. Every set of the database is locked with an
// flock(2) on <main file>.migrate.lock. An in-memory database runs its own
// set on the registry's pool (one connection); it has no tenant sets.
type backend struct {
	d       *registry.Database
	dialect goose.Dialect
	pg      bool
	main    string // SQLite: the main database's file, "" in memory
	memory  bool
}

func newBackend(ctx context.Context, d *registry.Database, opened bool) (*backend, error) {
	b := &backend{d: d, pg: isPostgres(d)}
	if b.pg {
		b.dialect = goose.DialectPostgres
		if d.Pool() == nil {
			return nil, fmt.Errorf("%w: the database has no pool", registry.ErrClosed)
		}
		return b, nil
	}
	b.dialect = goose.DialectSQLite3
	file, err := attachedFile(ctx, d, "main")
	if err != nil {
		return nil, err
	}
	b.main, b.memory = file, file == ""
	if b.memory && opened {
		// This run opened it: what it migrated would vanish with the
		// count it gives back.
		return nil, fmt.Errorf("%w: migrating an in-memory SQLite database that nobody holds connected (connect the registry first)", ErrUnsupported)
	}
	return b, nil
}

// attachedFile is the file of the SQLite database attached as schema on a
// connection of d's pool ("" for a memory database).
func attachedFile(ctx context.Context, d *registry.Database, schema string) (string, error) {
	db := d.DB()
	if db == nil {
		return "", fmt.Errorf("%w: the database has no pool", registry.ErrClosed)
	}
	var file string
	err := db.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = ? COLLATE NOCASE`, schema).Scan(&file)
	if err == sql.ErrNoRows {
		return "", fmt.Errorf("%w: %q is not attached", ErrUnknownSchema, schema)
	}
	if err != nil {
		return "", fmt.Errorf("finding the file of schema %q: %w", schema, err)
	}
	return file, nil
}

// open returns the *sql.DB a set runs on, and what closes it.
func (b *backend) open(ctx context.Context, schema string) (*sql.DB, func(), error) {
	noop := func() {}
	switch {
	case b.pg:
		pool := b.d.Pool()
		if pool == nil {
			return nil, nil, fmt.Errorf("%w: the database has no pool", registry.ErrClosed)
		}
		cfg := pool.Config().ConnConfig // a copy
		if schema != "" {
			if cfg.RuntimeParams == nil {
				cfg.RuntimeParams = map[string]string{}
			}
			cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
		}
		db := stdlib.OpenDB(*cfg)
		return db, func() { _ = db.Close() }, nil
	case b.memory:
		return b.d.DB(), noop, nil
	}
	file := b.main
	if schema != "" {
		var err error
		if file, err = attachedFile(ctx, b.d, schema); err != nil {
			return nil, nil, err
		}
		if file == "" {
			return nil, nil, fmt.Errorf("%w: tenant migrations on an in-memory SQLite schema", ErrUnsupported)
		}
	}
	db, err := sql.Open("sqlite", fileURI(file))
	if err != nil {
		return nil, nil, err
	}
	return db, func() { _ = db.Close() }, nil
}

// fileURI opens an existing SQLite file read-write (never creating one),
// with foreign keys on, a busy timeout and immediate write transactions.
func fileURI(file string) string {
	p := filepath.ToSlash(file)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	q := fmt.Sprintf("mode=rw&_pragma=foreign_keys(1)&_pragma=busy_timeout(%d)&_txlock=immediate", busyTimeout.Milliseconds())
	return (&url.URL{Scheme: "file", Path: p, RawQuery: q}).String()
}

// lock takes the lock of one set for the run of a write, and returns what
// releases it.
// On PostgreSQL the lock is held on a connection of db, the set's own.
func (b *backend) lock(ctx context.Context, db *sql.DB, schema, table string) (func(), error) {
	if !b.pg {
		if b.memory {
			return memoryLock(ctx, b.d)
		}
		return fileLock(ctx, b.main+".migrate.lock")
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if schema == "" {
		if err := conn.QueryRowContext(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	key := advisoryKey(schema, table)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// Discard the connection: the session ends, and its locks
			// with it.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}, nil
}

// advisoryKey is the advisory lock of one version table.
func advisoryKey(schema, table string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("dbactor/migrate\x00" + schema + "\x00" + table))
	return int64(h.Sum64())
}

// memoryLocks serialise the runs on one in-memory database in this process
// (no other process can reach it).
var memoryLocks sync.Map // database actor's PID → chan struct{}

func memoryLock(ctx context.Context, d *registry.Database) (func(), error) {
	v, _ := memoryLocks.LoadOrStore(d.PID().String(), make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// readApplied reads the applied versions (not 0) and when each was applied;
// a missing version table means none.
func (b *backend) readApplied(ctx context.Context, db *sql.DB, table string) (map[int64]time.Time, error) {
	var exists bool
	var err error
	if b.pg {
		err = db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
			WHERE schemaname = current_schema() AND tablename = $1)`, table).Scan(&exists)
	} else {
		err = db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM main.sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&exists)
	}
	if err != nil || !exists {
		return map[int64]time.Time{}, err
	}
	q := `SELECT version_id, tstamp FROM ` + table + ` WHERE version_id > 0 ORDER BY id`
	if !b.pg {
		q = `SELECT version_id, tstamp FROM main.` + table + ` WHERE version_id > 0 ORDER BY id`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var v int64
		var at any
		if err := rows.Scan(&v, &at); err != nil {
			return nil, err
		}
		out[v] = asTime(at)
	}
	return out, rows.Err()
}

func asTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t.UTC()
	case string:
		for _, layout := range []string{time.DateTime, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00"} {
			if p, err := time.Parse(layout, t); err == nil {
				return p.UTC()
			}
		}
	case []byte:
		return asTime(string(t))
	}
	return time.Time{}
}
