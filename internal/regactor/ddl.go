package regactor

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/internal/plumbing"
	"github.com/dbactor/dbactor/internal/sqlite"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// The DDL the schema requests run, on one connected database. PostgreSQL
// runs each request in one transaction (its DDL is transactional, so a
// failure leaves nothing behind); SQLite creates and drops schemas as
// attached files first, then runs the table statements in one transaction.

// dialect is s's SQL dialect.
func dialect(s *actors.State) dsn.Dialect { return dsn.Dialect(s.Dialect()) }

func sqlDB(s *actors.State) (*sql.DB, error) {
	if db := s.DB(); db != nil {
		return db, nil
	}
	return nil, closedMeanwhile(s)
}

// closedMeanwhile: someone force-disconnected the database under the job.
func closedMeanwhile(s *actors.State) error {
	return &messages.Error{Code: messages.Code_CODE_CLOSED, Message: messages.DisplayName(s.Name()) + " was disconnected while the schema operation ran"}
}

func sqliteOf(s *actors.State) (*sqlite.DB, error) {
	if sq := plumbing.SQLite(s); sq != nil {
		return sq, nil
	}
	return nil, closedMeanwhile(s)
}

// ddlLockKey is the PostgreSQL advisory lock dbactor's DDL transactions
// take: IF NOT EXISTS is not safe against a concurrent CREATE (two
// CreateAll at once, here or in another process, fail with a unique
// violation on the catalog), so they take turns.
const ddlLockKey = 0x6462616374 // "dbact"

func execTx(ctx context.Context, db *sql.DB, d dsn.Dialect, stmts []string) error {
	if len(stmts) == 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if d == dsn.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(ddlLockKey)); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func ifNot(b bool, clause string) string {
	if b {
		return clause
	}
	return ""
}

// tableSchema is where a model's table lives when a call names schema:
// inside it for models without a schema of their own; otherwise the
// model's schema, else the registry's.
func tableSchema(m *models.Model, schema, registrySchema string) string {
	switch {
	case m.Schema() != "":
		return m.Schema()
	case schema != "":
		return schema
	}
	return registrySchema
}

func createTables(d dsn.Dialect, ms []*models.Model, schemaOf func(*models.Model) string, ifNotExists bool) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.CreateTableSQL(d, schemaOf(m), ifNotExists)...)
	}
	return out
}

func dropTables(d dsn.Dialect, ms []*models.Model, schemaOf func(*models.Model) string, ifExists bool) []string {
	var out []string
	for _, m := range slices.Backward(ms) {
		out = append(out, m.DropTableSQL(d, schemaOf(m), ifExists))
	}
	return out
}

// createSchema is Edgy's Schema.create_schema on one database. ms are the
// database's models in dependency order; with models, those bound to a
// schema of their own are left out (Edgy #375).
func createSchema(ctx context.Context, s *actors.State, schema string, ifNotExists, withModels bool, ms []*models.Model, registrySchema string) error {
	db, err := sqlDB(s)
	if err != nil {
		return err
	}
	var tables []string
	if withModels {
		mine := ms
		if schema != "" {
			mine = slices.DeleteFunc(slices.Clone(ms), func(m *models.Model) bool { return m.Schema() != "" })
		}
		tables = createTables(dialect(s), mine, func(m *models.Model) string { return tableSchema(m, schema, registrySchema) }, ifNotExists)
	}
	if dialect(s) == dsn.SQLite {
		sq, err := sqliteOf(s)
		if err != nil {
			return err
		}
		// created only when this call made it: a failed table step must not
		// drop a schema someone else created meanwhile.
		created := false
		if schema != "" {
			switch err := sq.CreateSchema(ctx, schema, false); {
			case err == nil:
				created = true
			case !ifNotExists || !sq.HasSchema(schema):
				return err
			}
		}
		if err := execTx(ctx, db, dialect(s), tables); err != nil {
			if created { // leave nothing behind, as PostgreSQL's rollback does
				_ = sq.DropSchema(context.WithoutCancel(ctx), schema, true, true)
			}
			return err
		}
		return nil
	}
	var stmts []string
	if schema != "" {
		stmts = append(stmts, "CREATE SCHEMA "+ifNot(ifNotExists, "IF NOT EXISTS ")+ident.Quote(schema))
	}
	return execTx(ctx, db, dialect(s), append(stmts, tables...))
}

// dropSchema is Edgy's Schema.drop_schema on one database: the schema, or
// without one the database's model tables.
func dropSchema(ctx context.Context, s *actors.State, schema string, cascade, ifExists bool, ms []*models.Model, registrySchema string) error {
	db, err := sqlDB(s)
	if err != nil {
		return err
	}
	if schema == "" {
		return execTx(ctx, db, dialect(s), dropTables(dialect(s), ms, func(m *models.Model) string { return tableSchema(m, "", registrySchema) }, ifExists))
	}
	if dialect(s) == dsn.SQLite {
		sq, err := sqliteOf(s)
		if err != nil {
			return err
		}
		return sq.DropSchema(ctx, schema, ifExists, cascade)
	}
	q := "DROP SCHEMA " + ifNot(ifExists, "IF EXISTS ") + ident.Quote(schema) + ifNot(cascade, " CASCADE")
	return execTx(ctx, db, dialect(s), []string{q})
}

// ownSchemas lists the schemas of models bound to one, other than skip.
func ownSchemas(ms []*models.Model, skip string) []string {
	var out []string
	for _, m := range ms {
		if s := m.Schema(); s != "" && s != skip && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// createAll is Edgy's create_all on one database: the registry schema if
// set, the schemas models are bound to, then every model table, all IF NOT
// EXISTS.
func createAll(ctx context.Context, s *actors.State, ms []*models.Model, registrySchema string) error {
	db, err := sqlDB(s)
	if err != nil {
		return err
	}
	schemas := ownSchemas(ms, registrySchema)
	if registrySchema != "" {
		schemas = append([]string{registrySchema}, schemas...)
	}
	tables := createTables(dialect(s), ms, func(m *models.Model) string { return tableSchema(m, "", registrySchema) }, true)
	if dialect(s) == dsn.SQLite {
		sq, err := sqliteOf(s)
		if err != nil {
			return err
		}
		for _, name := range schemas {
			if err := sq.CreateSchema(ctx, name, true); err != nil {
				return err
			}
		}
		return execTx(ctx, db, dialect(s), tables)
	}
	var stmts []string
	for _, name := range schemas {
		stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+ident.Quote(name))
	}
	return execTx(ctx, db, dialect(s), append(stmts, tables...))
}

// dropAll is Edgy's drop_all on one database: the registry schema with
// CASCADE if set, else the model tables; tables of models bound to a schema
// of their own are dropped either way.
func dropAll(ctx context.Context, s *actors.State, ms []*models.Model, registrySchema string) error {
	if registrySchema == "" {
		return dropSchema(ctx, s, "", false, true, ms, "")
	}
	own := slices.DeleteFunc(slices.Clone(ms), func(m *models.Model) bool { return m.Schema() == "" || m.Schema() == registrySchema })
	if err := dropSchema(ctx, s, "", false, true, own, registrySchema); err != nil {
		return err
	}
	return dropSchema(ctx, s, registrySchema, true, true, nil, registrySchema)
}

// schemasOf is the database's default schema and the schemas that exist.
func schemasOf(ctx context.Context, s *actors.State) (string, []string, error) {
	if dialect(s) == dsn.SQLite {
		sq, err := sqliteOf(s)
		if err != nil {
			return "", nil, err
		}
		list, err := sq.Schemas(ctx)
		return "main", list, err
	}
	db, err := sqlDB(s)
	if err != nil {
		return "", nil, err
	}
	var def sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&def); err != nil {
		return "", nil, err
	}
	if !def.Valid {
		return "", nil, &messages.Error{Code: messages.Code_CODE_SCHEMA,
			Message: "no default schema: current_schema() is NULL because no schema named in search_path exists"}
	}
	rows, err := db.QueryContext(ctx, `SELECT nspname FROM pg_catalog.pg_namespace
		WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY nspname`)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	var list []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return "", nil, err
		}
		list = append(list, n)
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("listing schemas: %w", err)
	}
	return def.String, list, nil
}

// modelsOf lists the models bound to database, in dependency order (a
// referenced table first).
func modelsOf(all []*models.Model, database string) ([]*models.Model, error) {
	mine := slices.DeleteFunc(slices.Clone(all), func(m *models.Model) bool { return m.Database() != database })
	return models.SortByDependencies(mine)
}
