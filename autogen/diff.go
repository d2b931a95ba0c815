package autogen

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/atlasx"
	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// GooseTable is goose's default version table, never proposed for dropping.
const GooseTable = "goose_db_version"

// Change is what differs between the models and one schema of one database:
// the statements of the next migration for it.
type Change struct {
	// Database is the database's name in the registry, "" for the main one.
	Database string
	// Schema is the schema compared: "" for the database's default schema,
	// else the registry's or the models' own schema, or the tenant's.
	Schema string
	// Tenant marks the tenant set (see Tenant): unqualified statements,
	// applied to every tenant schema.
	Tenant bool
	// Dialect is the database's dialect (client.Postgres or client.SQLite).
	Dialect client.Dialect
	// Up brings the schema to the models; Down brings it back. Statements
	// carry no trailing semicolon.
	Up, Down []string
	// Comments say what Up does, step by step (atlas's comments, such as
	// `create "users" table`); Write puts them at the top of the file.
	Comments []string
	// NoTransaction is set when a statement must run outside a
	// transaction: SQLite's table rebuild turns foreign keys off, which
	// SQLite ignores inside one. Up and Down then carry their own BEGIN and
	// COMMIT around the rebuild; run them in order on one connection.
	NoTransaction bool
}

// Empty reports whether the change has nothing to do.
func (c Change) Empty() bool { return len(c.Up) == 0 }

// Diff compares the models registered in reg with the live databases and
// returns one Change per database and schema that differs, main database
// first, then the extras by name, schemas in name order ("" first). An empty
// result means the databases match the models. Each database is connected
// for the comparison (with the ref count, as the schema calls do) and left
// as found. Diff only reads: on PostgreSQL the models' tables are created in
// a scratch schema inside a transaction that is rolled back.
//
// Failures are *DiffError naming the database and schema.
func Diff(ctx context.Context, reg *registry.Registry, opts ...Option) ([]Change, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.tenant != "" {
		if err := ident.Validate("schema", o.tenant); err != nil {
			return nil, err
		}
	}
	dbs := reg.Databases()
	if o.databasesSet {
		dbs = dbs[:0:0]
		for _, name := range o.databases {
			db := reg.Database()
			if name != "" {
				var err error
				if db, err = reg.Extra(name); err != nil {
					return nil, err
				}
			}
			if !slices.Contains(dbs, db) {
				dbs = append(dbs, db)
			}
		}
	}
	all := reg.Models()
	var out []Change
	for _, db := range dbs {
		var mine []*models.Model
		for _, m := range all {
			if m.Database() == db.Name() {
				mine = append(mine, m)
			}
		}
		if len(mine) == 0 && !o.dropUnknown {
			continue
		}
		cs, err := diffDatabase(ctx, reg, db, mine, &o)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// diffDatabase compares one database, schema by schema.
func diffDatabase(ctx context.Context, reg *registry.Registry, db *registry.Database, ms []*models.Model, o *options) (out []Change, err error) {
	d := dsn.Dialect(db.Dialect())
	if d != dsn.Postgres && d != dsn.SQLite {
		return nil, &DiffError{Database: db.Name(), Op: "connect", Err: fmt.Errorf("%w: dialect %q", ErrUnsupported, d)}
	}
	// Group the models by the schema they live in.
	groups := map[string][]*models.Model{}
	for _, m := range ms {
		s := m.Schema()
		switch {
		case o.tenant != "" && s != "":
			continue // bound to a schema of its own: not in the tenant set
		case o.tenant != "":
			s = o.tenant
		case s == "":
			s = reg.Schema()
		}
		if d == dsn.SQLite && strings.EqualFold(s, "main") {
			s = ""
		}
		groups[s] = append(groups[s], m)
	}
	if o.dropUnknown {
		s := o.tenant
		if s == "" {
			s = reg.Schema()
		}
		if d == dsn.SQLite && strings.EqualFold(s, "main") {
			s = ""
		}
		if _, ok := groups[s]; !ok {
			groups[s] = nil // the schema's unknown tables, even without a model there
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}

	if _, err := db.Connect(ctx); err != nil {
		return nil, &DiffError{Database: db.Name(), Op: "connect", Err: err}
	}
	defer func() {
		if _, derr := db.Disconnect(context.WithoutCancel(ctx)); derr != nil && err == nil {
			err = &DiffError{Database: db.Name(), Op: "connect", Err: derr}
		}
	}()
	sqlDB := db.DB()
	if sqlDB == nil {
		return nil, &DiffError{Database: db.Name(), Op: "connect", Err: registry.ErrClosed}
	}

	names := make([]string, 0, len(groups))
	for s := range groups {
		names = append(names, s)
	}
	slices.Sort(names)
	for _, s := range names {
		c, err := diffSchema(ctx, db.Name(), sqlDB, d, s, groups[s], o)
		if err != nil {
			return nil, err
		}
		if !c.Empty() {
			out = append(out, c)
		}
	}
	return out, nil
}

// diffSchema compares the models ms with schema s ("" the default one).
func diffSchema(ctx context.Context, dbName string, sqlDB *sql.DB, d dsn.Dialect, s string, ms []*models.Model, o *options) (Change, error) {
	c := Change{Database: dbName, Schema: s, Tenant: o.tenant != "", Dialect: client.Dialect(d)}
	fail := func(op string, err error) (Change, error) {
		return Change{}, &DiffError{Database: dbName, Schema: s, Op: op, Err: err}
	}
	sorted, err := models.SortByDependencies(ms)
	if err != nil {
		return fail("models", err)
	}
	name := s
	if name == "" {
		if name, err = atlasx.DefaultSchema(ctx, sqlDB, d); err != nil {
			return fail("inspect", err)
		}
	}
	var tables []string // nil: every table
	if !o.dropUnknown {
		tables = make([]string, 0, len(sorted))
		for _, m := range sorted {
			tables = append(tables, m.Table())
		}
	}
	current, exists, err := atlasx.Live(ctx, sqlDB, d, name, tables)
	if err != nil {
		return fail("inspect", err)
	}
	if !exists && (o.tenant != "" || d == dsn.SQLite) {
		// A tenant is compared, not created; an SQLite schema is an
		// attached file that SQL cannot create (reg.CreateSchema does).
		return fail("inspect", fmt.Errorf("%w: %q", ErrNoSchema, name))
	}
	if o.dropUnknown {
		ignored := append([]string{GooseTable}, o.ignore...)
		current.Tables = slices.DeleteFunc(current.Tables, func(t *schema.Table) bool {
			return slices.ContainsFunc(ignored, func(i string) bool { return strings.EqualFold(i, t.Name) })
		})
	}
	desired, err := atlasx.Models(ctx, sqlDB, d, name, sorted)
	if err != nil {
		return fail("models", err)
	}
	carryOver(current, desired)
	drv, err := atlasx.Driver(d, sqlDB)
	if err != nil {
		return fail("inspect", err)
	}
	qualifier := ""
	if d == dsn.Postgres && s != "" && o.tenant == "" {
		qualifier = s
	}
	up, upNoTx, comments, err := plan(ctx, drv, current, desired, qualifier)
	if err != nil {
		return fail("plan", err)
	}
	if len(up) == 0 {
		return c, nil
	}
	down, downNoTx, _, err := plan(ctx, drv, desired, current, qualifier)
	if err != nil {
		return fail("plan", err)
	}
	if d == dsn.Postgres && !exists && qualifier != "" {
		up = append([]string{"CREATE SCHEMA IF NOT EXISTS " + ident.Quote(s)}, up...)
		comments = append([]string{fmt.Sprintf("create schema %q", s)}, comments...)
	}
	if upNoTx || downNoTx {
		c.NoTransaction = true
		up, down = ownTransaction(up), ownTransaction(down)
	}
	if d == dsn.SQLite && s != "" && o.tenant == "" {
		for _, stmts := range [][]string{up, down} {
			for i := range stmts {
				if stmts[i], err = qualifySQLite(stmts[i], s); err != nil {
					return fail("plan", err)
				}
			}
		}
	}
	c.Up, c.Down, c.Comments = up, down, comments
	return c, nil
}

// plan is the statements that take from to to, whether they need foreign
// keys off (SQLite's table rebuild), and their comments.
func plan(ctx context.Context, drv migrate.Driver, from, to *schema.Schema, qualifier string) (stmts []string, noTx bool, comments []string, err error) {
	changes, err := drv.SchemaDiff(from, to)
	if err != nil {
		return nil, false, nil, err
	}
	changes = modelled(slices.DeleteFunc(changes, func(c schema.Change) bool {
		_, attr := c.(*schema.ModifySchema) // schema attributes are not the models' business
		return attr
	}))
	if len(changes) == 0 {
		return nil, false, nil, nil
	}
	p, err := drv.PlanChanges(ctx, "autogen", changes, func(o *migrate.PlanOptions) { o.SchemaQualifier = &qualifier })
	if err != nil {
		return nil, false, nil, err
	}
	for _, c := range p.Changes {
		if c.Cmd == fkOff || c.Cmd == fkOn {
			noTx = true
			continue
		}
		stmts = append(stmts, c.Cmd)
		comments = append(comments, c.Comment)
	}
	return stmts, noTx, comments, nil
}

// The pragmas atlas's SQLite planner puts around a table rebuild.
const (
	fkOff = "PRAGMA foreign_keys = off"
	fkOn  = "PRAGMA foreign_keys = on"
)

// ownTransaction wraps stmts for a run outside a migration transaction:
// foreign keys off (so that the rebuild's DROP TABLE cascades nothing),
// then the statements in a transaction of their own, then foreign keys on.
func ownTransaction(stmts []string) []string {
	if len(stmts) == 0 {
		return nil
	}
	out := append([]string{fkOff, "BEGIN"}, stmts...)
	return append(out, "COMMIT", fkOn)
}
