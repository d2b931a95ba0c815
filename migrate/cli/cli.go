package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/dbactor/dbactor/autogen"
	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/registry"
)

// Exit codes of App.Main.
const (
	ExitOK      = 0 // success
	ExitFailed  = 1 // a migration failed
	ExitUsage   = 2 // bad command line
	ExitConfig  = 3 // configuration, connection, layout
	ExitPending = 4 // --check found pending migrations or changes
)

// Config is the registry and migrations a command works on, from flags and
// environment.
type Config struct {
	// Database is the main database's URL.
	Database string
	// Extra maps extra databases' names to URLs.
	Extra map[string]string
	// Dir is the migrations root.
	Dir string
	// Tenants limits the tenant sets to these schemas (nil: every tenant).
	Tenants []string
	// Logger receives the registry's warnings (stderr, level warn).
	Logger *slog.Logger
}

// Registry is the registry.Config the flags describe.
func (c Config) Registry() registry.Config {
	return registry.Config{Database: c.Database, Extra: c.Extra}
}

// DiffFunc compares the registry's models with its databases and writes
// the next migration into dir, in package migrate's layout, called name;
// it returns the files written (none when nothing differs).
type DiffFunc func(ctx context.Context, reg *registry.Registry, dir, name string) ([]string, error)

// DefaultDiff is the diff of every App that sets none: package autogen's
// Diff of every database of reg (its default schema, and the schemas its
// models are bound to), written by autogen.Write.
func DefaultDiff(ctx context.Context, reg *registry.Registry, dir, name string) ([]string, error) {
	changes, err := autogen.Diff(ctx, reg)
	if err != nil {
		return nil, err
	}
	return autogen.Write(dir, name, changes)
}

// App is a command line over one registry.
type App struct {
	// Name is the program's name in usage lines ("dbactor" when empty).
	Name string
	// Registry builds the registry a command works on from its Config; nil
	// means registry.New(nil, cfg.Registry(), registry.WithLogger(cfg.Logger)).
	// An application registers its models here. The App closes it.
	Registry func(ctx context.Context, cfg Config) (*registry.Registry, error)
	// FS, when set, is the migrations tree when neither --dir nor
	// DBACTOR_MIGRATIONS is given (an embed.FS compiled into the binary).
	// migrate create always writes into a directory.
	FS fs.FS
	// Options are added to every migrate call (migrate.WithGoMigrations, …).
	Options []migrate.Option
	// Diff overrides DefaultDiff.
	Diff DiffFunc
	// Stdout and Stderr default to os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv defaults to os.Getenv.
	Getenv func(string) string
}

// usageError is a bad command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// configError is a configuration or environment problem: exit 3.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// exitError carries an exit code whose message was already printed.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line args (without the program name) and returns
// the exit code.
func (a *App) Main(ctx context.Context, args []string) int {
	errw := a.errw()
	err := a.dispatch(ctx, args)
	var ue *usageError
	var ce *configError
	var ee *exitError
	var conn *registry.ConnectError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(errw, "%s: %s\nRun '%s --help' for usage.\n", a.name(), ue.msg, a.name())
		return ExitUsage
	case errors.Is(err, migrate.ErrInvalidArgument):
		fmt.Fprintf(errw, "%s: %v\n", a.name(), err)
		return ExitUsage
	case errors.As(err, &ce), errors.As(err, &conn), errors.Is(err, registry.ErrInvalidConfig), errors.Is(err, migrate.ErrLayout):
		fmt.Fprintf(errw, "%s: %v\n", a.name(), err)
		return ExitConfig
	default:
		fmt.Fprintf(errw, "%s: %v\n", a.name(), err)
		return ExitFailed
	}
}

func (a *App) name() string {
	if a.Name == "" {
		return "dbactor"
	}
	return a.Name
}

func (a *App) out() io.Writer {
	if a.Stdout == nil {
		return os.Stdout
	}
	return a.Stdout
}

func (a *App) errw() io.Writer {
	if a.Stderr == nil {
		return os.Stderr
	}
	return a.Stderr
}

func (a *App) getenv(k string) string {
	if a.Getenv == nil {
		return os.Getenv(k)
	}
	return a.Getenv(k)
}

func (a *App) usage() string {
	n := a.name()
	return fmt.Sprintf(`%[1]s: migrations for a dbactor registry (a main database, extra databases, tenant schemas).

Usage:
  %[1]s migrate up      apply pending migrations        (%[1]s migrate up --help)
  %[1]s migrate down    roll back migrations
  %[1]s migrate status  show applied and pending migrations
  %[1]s migrate create  write a new, empty migration
  %[1]s diff            write the next migration from the registered models

Layout: <dir>/default/NNNNN_name.sql (main database), <dir>/<extra>/… (an extra),
<dir>/<database>/tenants/… (every tenant schema of that database).

Environment: DBACTOR_DATABASE, DBACTOR_EXTRA ("name=URL name=URL"),
DBACTOR_MIGRATIONS, DBACTOR_TENANTS ("a,b").

Exit codes: 0 ok, 1 a migration failed, 2 usage, 3 configuration or
connection, 4 --check found work to do.
`, n)
}

func (a *App) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.errw(), a.usage())
		return &exitError{ExitUsage}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.out(), a.usage())
		return nil
	case "migrate":
		if len(args) < 2 {
			fmt.Fprint(a.errw(), a.usage())
			return &exitError{ExitUsage}
		}
		switch args[1] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(a.out(), a.usage())
			return nil
		case "up":
			return a.run(ctx, migrate.OpUp, args[2:])
		case "down":
			return a.run(ctx, migrate.OpDown, args[2:])
		case "status":
			return a.run(ctx, migrate.OpStatus, args[2:])
		case "create":
			return a.create(args[2:])
		}
		return &usageError{fmt.Sprintf("unknown command \"migrate %s\"", args[1])}
	case "diff":
		return a.diff(ctx, args[1:])
	}
	return &usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// multi is a repeatable flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// common are the flags of every command that opens the registry.
type common struct {
	database string
	extras   multi
	dir      string
	tenants  multi
	timeout  time.Duration
}

func (a *App) flags(name, summary, argsUsage string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(a.name()+" "+name, flag.ContinueOnError)
	c := &common{}
	fs.StringVar(&c.database, "database", "", "main database URL (env DBACTOR_DATABASE)")
	fs.Var(&c.extras, "extra", "extra database as name=URL; repeatable (env DBACTOR_EXTRA)")
	fs.StringVar(&c.dir, "dir", "", "migrations root directory (env DBACTOR_MIGRATIONS; default \"migrations\")")
	fs.Var(&c.tenants, "tenant", "only this tenant schema; repeatable (env DBACTOR_TENANTS, comma-separated)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s [flags]%s\n\n%s\n\nFlags:\n", a.name(), name, argsUsage, summary)
		fs.PrintDefaults()
	}
	return fs, c
}

func (a *App) parse(fs *flag.FlagSet, args []string) error {
	// Asked-for help goes to stdout; a mistake and its usage to stderr.
	fs.SetOutput(a.errw())
	for _, arg := range args {
		if arg == "--" {
			break
		}
		switch arg {
		case "-h", "--h", "-help", "--help":
			fs.SetOutput(a.out())
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{ExitUsage} // the flag package printed the problem and the usage
	}
	return nil
}

// config resolves flags and environment.
func (a *App) config(c *common) (Config, error) {
	cfg := Config{Database: c.database, Dir: c.dir, Extra: map[string]string{}}
	if cfg.Database == "" {
		cfg.Database = a.getenv("DBACTOR_DATABASE")
	}
	if cfg.Database == "" {
		return cfg, &usageError{"no database: pass --database URL or set DBACTOR_DATABASE"}
	}
	extras := []string(c.extras)
	if len(extras) == 0 {
		extras = strings.Fields(a.getenv("DBACTOR_EXTRA"))
	}
	for _, e := range extras {
		name, url, ok := strings.Cut(e, "=")
		if !ok || strings.TrimSpace(name) == "" || url == "" {
			return cfg, &usageError{fmt.Sprintf("--extra %q: want name=URL", redactPair(e))}
		}
		cfg.Extra[name] = url
	}
	cfg.Tenants = c.tenants
	if len(cfg.Tenants) == 0 {
		for _, t := range strings.Split(a.getenv("DBACTOR_TENANTS"), ",") {
			if t = strings.TrimSpace(t); t != "" {
				cfg.Tenants = append(cfg.Tenants, t)
			}
		}
	}
	if cfg.Dir == "" {
		cfg.Dir = a.getenv("DBACTOR_MIGRATIONS")
	}
	cfg.Logger = slog.New(slog.NewTextHandler(a.errw(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg, nil
}

// redactPair shows name=… without what follows the name (it may hold a
// password).
func redactPair(s string) string {
	if name, _, ok := strings.Cut(s, "="); ok {
		return name + "=…"
	}
	return "…"
}

func (a *App) fsys(cfg Config) (fs.FS, error) {
	if cfg.Dir == "" && a.FS != nil {
		return a.FS, nil
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "migrations"
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, &configError{fmt.Errorf("migrations directory %q: not a directory (pass --dir or set DBACTOR_MIGRATIONS)", dir)}
	}
	return os.DirFS(dir), nil
}

func (a *App) openRegistry(ctx context.Context, cfg Config) (*registry.Registry, func(), error) {
	var reg *registry.Registry
	var err error
	if a.Registry != nil {
		reg, err = a.Registry(ctx, cfg)
	} else {
		reg, err = registry.New(nil, cfg.Registry(), registry.WithLogger(cfg.Logger))
	}
	if err != nil {
		return nil, nil, &configError{err}
	}
	return reg, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = reg.Close(cctx)
	}, nil
}

func (a *App) run(ctx context.Context, op migrate.Op, args []string) error {
	summaries := map[migrate.Op]string{
		migrate.OpUp:     "Apply pending migrations to every database and every tenant schema (or --to a version).",
		migrate.OpDown:   "Roll back the latest migration of every set (or every one above --to).",
		migrate.OpStatus: "Show every set's migrations, applied and pending. Writes nothing.",
	}
	fs, c := a.flags("migrate "+string(op), summaries[op], "")
	to := fs.Int64("to", -1, "target version (up: up to it; down: roll back everything above it)")
	dry := fs.Bool("dry-run", false, "report what would run, run nothing")
	noTenants := fs.Bool("no-tenants", false, "leave the tenant schemas out")
	stop := fs.Bool("stop-on-error", false, "stop at the first set that fails")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var dbs multi
	fs.Var(&dbs, "db", "only this database (\"default\" = the main one); repeatable; default: every database")
	check := fs.Bool("check", false, "exit 4 when migrations are pending after the call (status, --dry-run)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("migrate %s takes no arguments (got %q)", op, fs.Arg(0))}
	}
	cfg, err := a.config(c)
	if err != nil {
		return err
	}
	fsys, err := a.fsys(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	reg, closeReg, err := a.openRegistry(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeReg()

	opts := append([]migrate.Option(nil), a.Options...)
	if *to >= 0 {
		opts = append(opts, migrate.To(*to))
	}
	if *dry {
		opts = append(opts, migrate.DryRun())
	}
	if *noTenants {
		opts = append(opts, migrate.NoTenants())
	}
	if *stop {
		opts = append(opts, migrate.StopOnError())
	}
	if len(dbs) > 0 {
		opts = append(opts, migrate.Databases(dbs...))
	}
	if len(cfg.Tenants) > 0 {
		opts = append(opts, migrate.Tenants(cfg.Tenants...))
	}
	m, err := migrate.New(reg, fsys, opts...)
	if err != nil {
		return err
	}
	var rep *migrate.Report
	switch op {
	case migrate.OpUp:
		rep, err = m.Up(ctx)
	case migrate.OpDown:
		rep, err = m.Down(ctx)
	default:
		rep, err = m.Status(ctx)
	}
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(a.out())
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			_, _ = rep.WriteTo(a.out())
		}
	}
	if err != nil {
		return err
	}
	if *check && rep.Pending() > 0 {
		fmt.Fprintf(a.errw(), "%s: %d migrations pending\n", a.name(), rep.Pending())
		return &exitError{ExitPending}
	}
	return nil
}

func (a *App) create(args []string) error {
	fs := flag.NewFlagSet(a.name()+" migrate create", flag.ContinueOnError)
	dir := fs.String("dir", "", "migrations root directory (env DBACTOR_MIGRATIONS; default \"migrations\")")
	db := fs.String("db", "", "the database the migration is for (default = the main one)")
	tenants := fs.Bool("tenants", false, "a migration for every tenant schema of that database")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s migrate create [flags] NAME\n\nWrite an empty migration <dir>/<database>[/tenants]/NNNNN_NAME.sql, numbered after the\nhighest one there. NAME: letters, digits, underscores.\n\nFlags:\n", a.name())
		fs.PrintDefaults()
	}
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"migrate create takes one argument: the migration's NAME"}
	}
	root := *dir
	if root == "" {
		root = a.getenv("DBACTOR_MIGRATIONS")
	}
	if root == "" {
		root = "migrations"
	}
	p, err := migrate.Create(root, *db, *tenants, fs.Arg(0))
	if errors.Is(err, migrate.ErrInvalidArgument) {
		return &usageError{err.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out(), "created %s\n", p)
	return nil
}

func (a *App) diff(ctx context.Context, args []string) error {
	fs, c := a.flags("diff", "Compare the registered models with every database (and tenant schema) and write the\nnext migration for what differs into the migrations directory. Nothing differs: nothing written.", "")
	name := fs.String("name", "autogenerated", "the new migration's name")
	check := fs.Bool("check", false, "exit 4 when there are changes")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("diff takes no arguments (got %q)", fs.Arg(0))}
	}
	diff := a.Diff
	if diff == nil {
		diff = DefaultDiff
	}
	cfg, err := a.config(c)
	if err != nil {
		return err
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "migrations"
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	reg, closeReg, err := a.openRegistry(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeReg()
	files, err := diff(ctx, reg, dir, *name)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintln(a.out(), "no changes")
		return nil
	}
	for _, f := range files {
		fmt.Fprintf(a.out(), "wrote %s\n", f)
	}
	if *check {
		return &exitError{ExitPending}
	}
	return nil
}
