package atlasx

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	_ "modernc.org/sqlite" // the "sqlite" driver for scratch databases

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/models"
)

// Querier runs SQL: *sql.DB, *sql.Conn and *sql.Tx all are one.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrDialect is returned for a dialect other than PostgreSQL and SQLite.
var ErrDialect = errors.New("unsupported dialect")

// Driver opens atlas's driver of dialect d on q.
func Driver(d dsn.Dialect, q schema.ExecQuerier) (migrate.Driver, error) {
	switch d {
	case dsn.Postgres:
		return postgres.Open(q)
	case dsn.SQLite:
		return sqlite.Open(q)
	}
	return nil, fmt.Errorf("%w %q", ErrDialect, d)
}

// DefaultSchema is the schema unqualified names resolve to: current_schema()
// on PostgreSQL, "main" on SQLite.
func DefaultSchema(ctx context.Context, q Querier, d dsn.Dialect) (string, error) {
	if d == dsn.SQLite {
		return "main", nil
	}
	var s sql.NullString
	if err := q.QueryRowContext(ctx, "SELECT current_schema()").Scan(&s); err != nil {
		return "", err
	}
	if !s.Valid {
		return "", errors.New("current_schema() is NULL: search_path names no schema that exists")
	}
	return s.String, nil
}

// SchemaExists reports whether schema exists (on SQLite: is attached).
func SchemaExists(ctx context.Context, q Querier, d dsn.Dialect, name string) (bool, error) {
	var n int
	var err error
	switch d {
	case dsn.Postgres:
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name).Scan(&n)
	case dsn.SQLite:
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM pragma_database_list WHERE name = ? COLLATE NOCASE", name).Scan(&n)
	default:
		return false, fmt.Errorf("%w %q", ErrDialect, d)
	}
	return n > 0, err
}

// Live inspects the tables of schema name (nil tables: every table) as they
// are in the database q of dialect d. A schema that does not exist is
// returned empty, with exists false.
func Live(ctx context.Context, q Querier, d dsn.Dialect, name string, tables []string) (s *schema.Schema, exists bool, err error) {
	if exists, err = SchemaExists(ctx, q, d, name); err != nil || !exists {
		return schema.New(name), false, err
	}
	if tables != nil && len(tables) == 0 {
		return schema.New(name), true, nil
	}
	switch d {
	case dsn.Postgres:
		drv, err := postgres.Open(q)
		if err != nil {
			return nil, true, err
		}
		s, err := drv.InspectSchema(ctx, name, &schema.InspectOptions{Tables: tables, Mode: schema.InspectTables})
		return s, true, err
	case dsn.SQLite:
		if err := sqliteNames(tables); err != nil {
			return nil, true, err
		}
		stmts, err := sqliteMaster(ctx, q, name, tables)
		if err != nil {
			return nil, true, err
		}
		s, err := inspectScratch(ctx, stmts, nil)
		if err != nil {
			return nil, true, err
		}
		rename(s, name)
		return s, true, nil
	}
	return nil, false, fmt.Errorf("%w %q", ErrDialect, d)
}

// ErrName is returned for an SQLite table name that atlas's SQLite inspector
// cannot query: it writes table names into pragma calls between single
// quotes, unescaped.
var ErrName = errors.New("table name with a single quote: atlas cannot inspect it on SQLite")

func sqliteNames(tables []string) error {
	for _, t := range tables {
		if strings.ContainsRune(t, '\'') {
			return fmt.Errorf("%w: %q", ErrName, t)
		}
	}
	return nil
}

// sqliteMaster is the CREATE statements of the tables (and their indexes)
// of an SQLite schema, tables first. SQLite keeps them as written, minus the
// schema qualifier of the created object; automatic indexes (UNIQUE, PRIMARY
// KEY) have none and come back with their table.
func sqliteMaster(ctx context.Context, q Querier, name string, tables []string) ([]string, error) {
	query := "SELECT type, tbl_name, sql FROM " + ident.Quote(name) + ".sqlite_master" +
		" WHERE sql IS NOT NULL AND type IN ('table', 'index') AND tbl_name NOT LIKE 'sqlite\\_%' ESCAPE '\\'" +
		" ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid"
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var stmts []string
	for rows.Next() {
		var typ, tbl, stmt string
		if err := rows.Scan(&typ, &tbl, &stmt); err != nil {
			return nil, err
		}
		if tables != nil && !slices.ContainsFunc(tables, func(t string) bool { return strings.EqualFold(t, tbl) }) {
			continue
		}
		if strings.ContainsRune(tbl, '\'') {
			return nil, fmt.Errorf("%w: %q", ErrName, tbl)
		}
		stmts = append(stmts, stmt)
	}
	return stmts, rows.Err()
}

// inspectScratch runs stmts in a private in-memory SQLite database and
// inspects its main database (only tables, when tables is not nil).
func inspectScratch(ctx context.Context, stmts []string, tables []string) (*schema.Schema, error) {
	db, err := sql.Open("sqlite", "file:dbactor-atlasx?mode=memory")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection: one memory database
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("scratch database: %s: %w", s, err)
		}
	}
	drv, err := sqlite.Open(conn)
	if err != nil {
		return nil, err
	}
	return drv.InspectSchema(ctx, "main", &schema.InspectOptions{Tables: tables, Mode: schema.InspectTables})
}

// rename gives a schema inspected as SQLite's "main" its real name, and
// points the foreign keys that atlas stubbed in "main" at it (SQLite's
// references stay inside their database).
func rename(s *schema.Schema, name string) {
	s.Name = name
	for _, t := range s.Tables {
		for _, fk := range t.ForeignKeys {
			if fk.RefTable == nil || fk.RefTable.Schema == s {
				continue
			}
			if rt, ok := s.Table(fk.RefTable.Name); ok {
				fk.RefTable = rt
			} else if fk.RefTable.Schema != nil {
				fk.RefTable.Schema.Name = name
			}
		}
	}
}

// Models inspects the tables that ms's CreateTableSQL creates, as schema
// name. On PostgreSQL it runs them in a scratch schema of a transaction on
// db that is always rolled back (db needs the CREATE privilege on the
// database, nothing is left behind); on SQLite in a private in-memory
// database (db is not used). ms should be in dependency order
// (models.SortByDependencies); a foreign key to a table outside ms fails on
// PostgreSQL.
func Models(ctx context.Context, db *sql.DB, d dsn.Dialect, name string, ms []*models.Model) (*schema.Schema, error) {
	tables := make([]string, len(ms))
	for i, m := range ms {
		tables[i] = m.Table()
	}
	switch d {
	case dsn.SQLite:
		if err := sqliteNames(tables); err != nil {
			return nil, err
		}
		var stmts []string
		for _, m := range ms {
			stmts = append(stmts, m.CreateTableSQL(d, "", false)...)
		}
		s, err := inspectScratch(ctx, stmts, tables)
		if err != nil {
			return nil, err
		}
		rename(s, name)
		return s, nil
	case dsn.Postgres:
		if len(ms) == 0 {
			return schema.New(name), nil
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback() }()
		scratch, err := scratchName()
		if err != nil {
			return nil, err
		}
		stmts := []string{"CREATE SCHEMA " + ident.Quote(scratch)}
		for _, m := range ms {
			stmts = append(stmts, m.CreateTableSQL(d, scratch, false)...)
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return nil, fmt.Errorf("scratch schema: %s: %w", s, err)
			}
		}
		drv, err := postgres.Open(tx)
		if err != nil {
			return nil, err
		}
		s, err := drv.InspectSchema(ctx, scratch, &schema.InspectOptions{Tables: tables, Mode: schema.InspectTables})
		if err != nil {
			return nil, err
		}
		s.Name = name
		return s, nil
	}
	return nil, fmt.Errorf("%w %q", ErrDialect, d)
}

// scratchName is a fresh schema name for one inspection.
func scratchName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "dbactor_autogen_" + hex.EncodeToString(b[:]), nil
}
