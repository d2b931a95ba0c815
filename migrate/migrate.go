package migrate

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/dbactor/dbactor/registry"
)

// MainDir is the directory of the main database's migrations; an extra
// database's directory is its name.
const MainDir = "default"

// TenantsDir is the subdirectory, inside a database's directory, of the
// migrations applied to every tenant schema of that database.
const TenantsDir = "tenants"

// DefaultVersionTable is goose's own version table name, so that the goose
// command line can read the same tables.
const DefaultVersionTable = "goose_db_version"

// Op is an operation of the migrator.
type Op string

// The operations.
const (
	OpUp     Op = "up"
	OpDown   Op = "down"
	OpStatus Op = "status"
)

// Option adjusts a Migrator (given to New) or one call (given to Up, Down
// or Status, after New's).
type Option func(*config)

type config struct {
	to          int64
	toSet       bool
	dryRun      bool
	databases   []string
	tenants     []string
	tenantsSet  bool
	noTenants   bool
	stopOnError bool
	table       string
	logger      *slog.Logger
	goMigs      map[string][]*goose.Migration
	errs        []error
}

// To sets the target version. Up applies the pending migrations up to and
// including version; Down rolls back every applied migration above it (To(0)
// rolls back everything). Without To, Up applies every pending migration
// and Down rolls back the latest one of each set.
func To(version int64) Option {
	return func(c *config) {
		if version < 0 {
			c.errs = append(c.errs, fmt.Errorf("%w: To(%d): a version is 0 or more", ErrInvalidArgument, version))
		}
		c.to, c.toSet = version, true
	}
}

// DryRun reports what Up or Down would run (Result.Ran) and runs nothing:
// no version table is created, no lock is taken, nothing is written.
func DryRun() Option { return func(c *config) { c.dryRun = true } }

// Databases limits the call to the databases named ("" or MainDir is the
// main database); by default every database of the registry with a
// directory of migrations takes part.
func Databases(names ...string) Option {
	return func(c *config) {
		for _, n := range names {
			if n == MainDir {
				n = ""
			}
			c.databases = append(c.databases, n)
		}
	}
}

// Tenants limits the tenant sets to these schemas, which must exist in
// every database that has tenant migrations (else ErrUnknownSchema for that
// tenant). By default every tenant schema takes part: every schema of the
// database except the default one (current_schema(), "main" on SQLite),
// "public", the registry's Config.Schema and PostgreSQL's own.
func Tenants(names ...string) Option {
	return func(c *config) { c.tenants, c.tenantsSet = append(c.tenants, names...), true }
}

// NoTenants leaves the tenant sets out: only the databases' own
// migrations take part.
func NoTenants() Option { return func(c *config) { c.noTenants = true } }

// StopOnError stops at the first set that fails: the sets after it are not
// attempted and are reported with Skipped. By default every set is
// attempted whatever happened to the others.
func StopOnError() Option { return func(c *config) { c.stopOnError = true } }

// VersionTable names the version table (DefaultVersionTable, goose's own,
// by default). It is created unqualified: in the database's current schema,
// inside each tenant schema, in each SQLite file. The name must be a plain
// identifier: letters, digits and underscores, not starting with a digit.
func VersionTable(name string) Option {
	return func(c *config) {
		if !plainIdent.MatchString(name) {
			c.errs = append(c.errs, fmt.Errorf("%w: VersionTable(%q): a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes)", ErrInvalidArgument, name))
		}
		c.table = name
	}
}

// WithLogger logs each migration run (goose's own lines) to logger; by
// default the migrator logs nothing and the Report says everything.
func WithLogger(logger *slog.Logger) Option { return func(c *config) { c.logger = logger } }

// WithGoMigrations adds Go migrations (goose.NewGoMigration) to one set:
// dir is the set's directory relative to the root — MainDir, an extra's
// name, or either followed by "/tenants". Their versions share the set's
// numbering with its SQL files. A Go migration in a tenant set runs on the
// tenant's connection (search_path set to the tenant on PostgreSQL, the
// tenant's own file on SQLite).
func WithGoMigrations(dir string, migrations ...*goose.Migration) Option {
	return func(c *config) {
		if c.goMigs == nil {
			c.goMigs = map[string][]*goose.Migration{}
		}
		c.goMigs[path.Clean(dir)] = append(c.goMigs[path.Clean(dir)], migrations...)
	}
}

var plainIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Migrator applies the migrations of one directory tree to the databases
// of one registry. Make it with New; it is safe for concurrent use (runs
// against one database take turns, across processes too).
type Migrator struct {
	reg  *registry.Registry
	fsys fs.FS
	opts []Option
}

// New checks fsys against the registry — every top-level directory must be
// MainDir or the name of an extra database, and every Go migration must
// name a set that exists — and returns a Migrator. Nothing is connected.
// Top-level files (a README) are ignored.
func New(reg *registry.Registry, fsys fs.FS, opts ...Option) (*Migrator, error) {
	if reg == nil || fsys == nil {
		return nil, fmt.Errorf("%w: New needs a registry and a file system", ErrInvalidArgument)
	}
	m := &Migrator{reg: reg, fsys: fsys, opts: opts}
	c, err := m.config(nil)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, d := range reg.Databases() {
		if d.Name() == MainDir {
			return nil, fmt.Errorf("%w: the extra database %q has the main database's directory name", ErrLayout, MainDir)
		}
		known[dirName(d.Name())] = true
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("%w: reading the migrations root: %w", ErrLayout, err)
	}
	for _, e := range entries {
		if e.IsDir() && !known[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			return nil, fmt.Errorf("%w: directory %q: the registry has no database of that name (the main database's directory is %q)", ErrLayout, e.Name(), MainDir)
		}
	}
	for dir := range c.goMigs {
		db, rest, _ := strings.Cut(dir, "/")
		if !known[db] || (rest != "" && rest != TenantsDir) {
			return nil, fmt.Errorf("%w: WithGoMigrations(%q): not a set of this registry (%q, an extra's name, or either + \"/tenants\")", ErrLayout, dir, MainDir)
		}
	}
	return m, nil
}

func (m *Migrator) config(extra []Option) (*config, error) {
	c := &config{table: DefaultVersionTable}
	for _, o := range m.opts {
		o(c)
	}
	for _, o := range extra {
		o(c)
	}
	if len(c.errs) > 0 {
		return nil, c.errs[0]
	}
	return c, nil
}

// Up applies pending migrations to every set (see To, Tenants, DryRun). The
// Report lists every set, each with what ran, what is still pending and its
// failure; the error joins one *MigrationError per failed set (nil when
// none failed), so errors.As finds each.
func (m *Migrator) Up(ctx context.Context, opts ...Option) (*Report, error) {
	return m.run(ctx, OpUp, opts)
}

// Down rolls back migrations in every set: the latest one of each, or
// every one above the version given with To.
func (m *Migrator) Down(ctx context.Context, opts ...Option) (*Report, error) {
	return m.run(ctx, OpDown, opts)
}

// Status reports every set's migrations, applied and pending, and writes
// nothing (no version table is created).
func (m *Migrator) Status(ctx context.Context, opts ...Option) (*Report, error) {
	return m.run(ctx, OpStatus, opts)
}

// Up is New(reg, fsys, opts...) followed by its Up.
func Up(ctx context.Context, reg *registry.Registry, fsys fs.FS, opts ...Option) (*Report, error) {
	m, err := New(reg, fsys, opts...)
	if err != nil {
		return nil, err
	}
	return m.Up(ctx)
}

// Down is New(reg, fsys, opts...) followed by its Down.
func Down(ctx context.Context, reg *registry.Registry, fsys fs.FS, opts ...Option) (*Report, error) {
	m, err := New(reg, fsys, opts...)
	if err != nil {
		return nil, err
	}
	return m.Down(ctx)
}

// Status is New(reg, fsys, opts...) followed by its Status.
func Status(ctx context.Context, reg *registry.Registry, fsys fs.FS, opts ...Option) (*Report, error) {
	m, err := New(reg, fsys, opts...)
	if err != nil {
		return nil, err
	}
	return m.Status(ctx)
}

// OnConnect is the registry option that applies pending migrations from
// fsys inside the registry's first successful Connect (registry.WithStartup)
// — so before Serve or ListenAndServe bind their listener. If a migration
// fails, that Connect fails and is rolled back, and its error joins every
// *MigrationError. Migrations applied before the failure stay applied:
// they were committed, each in its own transaction (see the package doc).
func OnConnect(fsys fs.FS, opts ...Option) registry.Option {
	return registry.WithStartup(func(ctx context.Context, r *registry.Registry) error {
		_, err := Up(ctx, r, fsys, opts...)
		return err
	})
}

// dirName is the directory of the database called name.
func dirName(name string) string {
	if name == "" {
		return MainDir
	}
	return name
}

// selected reports whether the database called name takes part.
func (c *config) selected(name string) bool {
	return len(c.databases) == 0 || slices.Contains(c.databases, name)
}
