package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/internal/plumbing"
	"github.com/dbactor/dbactor/internal/regactor"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/supervisor"
)

// Config describes a registry: a main database and named extra databases,
// connected and disconnected as one unit (Edgy's Registry(database, extra=…)).
type Config struct {
	// Database is the main database's URL: postgres://…, postgresql+asyncpg://…,
	// libpq key=value, sqlite:///app.db, sqlite:///:memory:, file:app.db….
	// Registry-only query keys (connect_timeout, echo, pool_size, …) are
	// taken out before the rest reaches the driver.
	Database string
	// Extra maps a name to a database URL. Names must not be empty or blank;
	// surrounding whitespace is allowed (and logged as a warning), as in
	// Edgy. A Go map has no order, so extras are ordered by name wherever
	// order shows: connect errors, status lists.
	Extra map[string]string
	// Schema is the default schema for models (used by schema and model
	// operations). "" means the database's own default.
	Schema string
	// Timeout bounds calls whose context has no deadline. Zero means
	// client.DefaultTimeout (30 s).
	Timeout time.Duration
	// WithContentType registers a ContentType model (table contenttypes)
	// and gives every other model a unique, non-null content_type column
	// referencing it, ON DELETE CASCADE (Edgy's with_content_type). Models
	// opt out with models.NoContentType or a content_type column of their own.
	// ContentType, when set, turns content types on whatever this says.
	WithContentType bool
	// ContentType, when set, is the content-type model (Edgy's
	// with_content_type=<a model>), and content types are on whatever
	// WithContentType says:
	//   - another registry's content type (its ContentType()): shared, as
	//     in Edgy — not registered here, but ContentType() and
	//     Model("ContentType") return it, NewContentType and ContentTypeByID
	//     read and write the owner's table (run them on the database that
	//     holds it), and this registry's models get a content_type column
	//     referencing it — with the foreign key only when this registry's
	//     main database is the owner's (the same database actor, or the same
	//     URL) and both have the same Config.Schema; CreateAll and
	//     CreateSchema(WithModels) then create the owner's table too, IF NOT
	//     EXISTS (nothing here ever drops it);
	//   - any other model: a custom content-type model, Edgy's standard
	//     columns and more (see models.ContentTypeFrom, which checks it),
	//     registered here under the name "ContentType" in its own table.
	ContentType *models.Model
	// Health configures each connected database's health checks and its
	// recovery probes after an outage (see actors.HealthOptions). The zero
	// value checks every 250 ms with a 1 s timeout (PostgreSQL on a probe
	// connection of its own) and probes with backoff from 100 to 500 ms.
	Health actors.HealthOptions
	// Query configures how each database this registry owns runs the
	// messages.Query and messages.Exec requests sent to PID() (see
	// actors.QueryOptions). The zero value runs 4 statements at once with 256
	// more queued, and returns results of at most 1000 rows and 1 MiB.
	Query actors.QueryOptions
	// Peers bounds what one peer on another node may make the registry
	// keep (see PeerLimits). The zero value: 1024 counts, 64 owners and 64
	// callbacks per peer.
	Peers PeerLimits
}

// Option adjusts a registry beyond its Config.
type Option func(*options)

type options struct {
	logger    *slog.Logger
	loggerSet bool // WithLogger was given, perhaps with nil
	retry     bool // WithConnectRetry
	shared    []sharedDB
	hooks     map[string]actors.Hooks
	name      string
	events    func(messages.Event)
	// rollback names the databases in a rollback sandbox.
	rollback   map[string]bool
	instrument actors.Instrumentation
	// startup runs inside the first Connect that succeeds (WithStartup).
	startup func(ctx context.Context, r *Registry) error
}

// WithStartup runs fn inside the first Connect of this registry that
// succeeds (and so inside Run, Serve and ListenAndServe, before a listener
// is bound — or, when Serve listens early for its probes, with
// WithConnectRetry and WithHealthHandler, while every other request is
// still answered 503), with every database connected, before Connect
// returns;
// package migrate uses it to apply pending migrations (migrate.OnConnect).
// It is all or nothing with the connect: when fn fails, the connect is
// rolled back (the counts it took are given back) and Connect returns fn's
// error; the next Connect runs fn again. Once fn has succeeded it never
// runs again for this registry. Connects that arrive while fn runs wait for
// it (or for their ctx), so no Connect returns before fn has succeeded.
// fn must not call r.Connect, r.Run or r.Close (it would wait for itself);
// Database.Connect and the schema and model calls are fine. It applies to
// the facade New returns, not to Props, Copy or remote callers.
func WithStartup(fn func(ctx context.Context, r *Registry) error) Option {
	return func(o *options) { o.startup = fn }
}

// WithInstrumentation instruments every database this registry owns.
func WithInstrumentation(i actors.Instrumentation) Option {
	return func(o *options) { o.instrument = i }
}

type sharedDB struct {
	name string
	db   *Database
}

// WithExtraDatabase adds an extra database that another registry owns, like
// passing the same databasez Database object to two Edgy registries: both
// registries use one actor with one ref count, so the database stays open
// while either holds it. Its owner's Close closes it for both.
func WithExtraDatabase(name string, db *Database) Option {
	return func(o *options) { o.shared = append(o.shared, sharedDB{name, db}) }
}

// WithHooks sets the hooks of one database ("" is the main database).
func WithHooks(database string, hooks actors.Hooks) Option {
	return func(o *options) {
		if o.hooks == nil {
			o.hooks = map[string]actors.Hooks{}
		}
		o.hooks[database] = hooks
	}
}

// WithLogger sends the registry's logs to logger: one line for each
// outage, recovery, rollback and release of a caller that went away
// (warnings and info), lifecycle at Debug. Without it they go to
// slog.Default(); WithLogger(nil) silences them.
func WithLogger(logger *slog.Logger) Option {
	return func(o *options) { o.logger, o.loggerSet = logger, true }
}

// WithForceRollback puts databases ("" is the main database) in a rollback
// sandbox, for tests (databasez's force_rollback, Ecto's SQL sandbox):
// every Database.Run operation runs on one connection inside one
// transaction that is rolled back when the database's ref count returns to
// 0, each operation in a savepoint of its own. Schema operations and
// CreateAll/DropAll bypass it, so DDL persists. Pool() and DB() bypass it
// too: only Run goes through the sandbox. A Run nested in a Run must be
// given the ctx its fn got (it then runs inside it, in a savepoint); with
// another ctx it waits for the outer one until its ctx ends. A statement
// cancelled by its ctx breaks a PostgreSQL connection: the sandbox then
// starts over (ErrSandboxReset, what earlier operations wrote is gone).
// On SQLite the sandbox's open write transaction makes other writers (DDL
// included) wait, and its connection sees the schemas attached when it
// began: create tables and schemas before writing through Run. Not for
// in-memory SQLite. Only databases this registry owns.
func WithForceRollback(databases ...string) Option {
	return func(o *options) {
		if o.rollback == nil {
			o.rollback = map[string]bool{}
		}
		for _, d := range databases {
			o.rollback[d] = true
		}
	}
}

// WithEventHook passes every event of the registry's databases and actors
// to hook, as well as publishing it on the actor system's EventStream. The
// hook runs on the goroutine that publishes — a health loop, a supervisor,
// the registry's fan-out actor (ModelRegistered) or the database actor
// itself (the connect and disconnect events): return quickly, and do not
// call back into the database whose connect or disconnect event it handles
// (its actor is busy running the hook), nor, from a ModelRegistered, make a
// blocking model or callback call on the registry (its reply comes through
// the fan-out actor, which is busy running the hook). A panic in it is
// recovered and logged. A database shared from another registry reports to
// its owner's hook.
func WithEventHook(hook func(messages.Event)) Option {
	return func(o *options) { o.events = hook }
}

// WithName spawns the registry actor under a well-known name instead of a
// generated one, so other actors (and later other nodes) can address it.
func WithName(name string) Option {
	return func(o *options) { o.name = name }
}

// plan is a validated configuration and the registry actor's Plan built
// from it.
type plan struct {
	cfg  Config
	opts options
	*regactor.Plan
}

func newPlan(cfg Config, opts ...Option) *plan {
	p := basePlan(cfg, opts...)
	p.noteShared()
	p.Err = p.build()
	if p.Err == nil {
		cts, err := regactor.ContentTypesFor(cfg.ContentType, cfg.WithContentType)
		if err != nil {
			p.Err = &ConfigError{Err: fmt.Errorf("Config.ContentType: %w", err)}
		} else {
			p.Err = p.Init(cts, nil)
		}
	}
	return p
}

// basePlan applies opts and the defaults; members and book come after.
func basePlan(cfg Config, opts ...Option) *plan {
	p := &plan{cfg: cfg, Plan: &regactor.Plan{Schema: cfg.Schema,
		Limits: regactor.Limits{Counts: cfg.Peers.Counts, Owners: cfg.Peers.Owners, Callbacks: cfg.Peers.Callbacks}}}
	for _, o := range opts {
		o(&p.opts)
	}
	p.Events = p.opts.events
	switch p.Logger = p.opts.logger; {
	case !p.opts.loggerSet:
		p.Logger = defaultLogger()
	case p.Logger == nil:
		p.Logger = slog.New(slog.DiscardHandler)
	}
	p.Timeout = cfg.Timeout
	if p.Timeout <= 0 {
		p.Timeout = client.DefaultTimeout
	}
	return p
}

// noteShared records the actor system of each shared database: the
// registry actor refuses to run in another.
func (p *plan) noteShared() {
	p.Systems = map[string]*actor.ActorSystem{}
	for _, sh := range p.opts.shared {
		if sh.db != nil {
			p.Systems[sh.name] = sh.db.caller.System
		}
	}
}

// build validates everything and reports every problem at once.
func (p *plan) build() error {
	var errs []error
	stateOpts := func(name string) actors.StateOptions {
		return actors.StateOptions{Hooks: p.opts.hooks[name], Logger: p.Logger, DefaultTimeout: p.Timeout,
			Health: p.cfg.Health, Events: p.opts.events, ForceRollback: p.opts.rollback[name], Instrument: p.opts.instrument,
			Query: p.cfg.Query}
	}
	if err := p.cfg.Query.Validate(); err != nil {
		errs = append(errs, &ConfigError{Err: fmt.Errorf("Config.Query: %w", err)})
	}
	owned := func(name, url string) {
		if strings.TrimSpace(url) == "" && name == "" {
			errs = append(errs, &ConfigError{Database: name, Err: errors.New("Config.Database is empty: give the main database's URL")})
			return
		}
		st, err := actors.NewState(name, url, stateOpts(name))
		if err != nil {
			errs = append(errs, &ConfigError{Database: name, Err: err})
			return
		}
		p.Members = append(p.Members, supervisor.Member{Name: name, State: st, Owned: true})
	}
	owned("", p.cfg.Database)
	if p.cfg.Schema != "" {
		// Quoting drops a NUL and the server cuts a name at 63 bytes: an
		// invalid default schema could address someone else's.
		if err := ident.Validate("schema", p.cfg.Schema); err != nil {
			errs = append(errs, &ConfigError{Err: fmt.Errorf("Config.Schema: %w", err)})
		}
	}

	type extra struct {
		name, url string
		db        *Database
	}
	var extras []extra
	for name, url := range p.cfg.Extra {
		extras = append(extras, extra{name: name, url: url})
	}
	for _, s := range p.opts.shared {
		if _, dup := p.cfg.Extra[s.name]; dup || slices.ContainsFunc(extras, func(e extra) bool { return e.db != nil && e.name == s.name }) {
			errs = append(errs, &ConfigError{Database: s.name, Err: fmt.Errorf("%w: extra database name used twice", ErrInvalidName)})
			continue
		}
		if s.db == nil {
			errs = append(errs, &ConfigError{Database: s.name, Err: errors.New("WithExtraDatabase: nil *Database")})
			continue
		}
		extras = append(extras, extra{name: s.name, db: s.db})
	}
	slices.SortFunc(extras, func(a, b extra) int { return strings.Compare(a.name, b.name) })
	for _, e := range extras {
		switch trimmed := strings.TrimSpace(e.name); {
		case trimmed == "":
			errs = append(errs, &ConfigError{Database: e.name, Err: fmt.Errorf("%w: extra database name %q is empty", ErrInvalidName, e.name)})
			continue
		case trimmed != e.name:
			p.Logger.Warn("dbactor: extra database name has surrounding whitespace", "name", e.name)
		}
		if e.db != nil {
			if _, ok := p.opts.hooks[e.name]; ok {
				errs = append(errs, &ConfigError{Database: e.name, Err: errors.New("hooks of a shared database belong to the registry that owns it")})
			}
			p.Members = append(p.Members, supervisor.Member{Name: e.name, State: e.db.state})
			continue
		}
		owned(e.name, e.url)
	}
	// Any log line or error of one database may quote another's password
	// (a statement, a panic value): each scrubs them all.
	var secrets []string
	for _, m := range p.Members {
		secrets = append(secrets, plumbing.Secrets(m.State)...)
	}
	for _, m := range p.Members {
		if m.Owned {
			plumbing.AlsoScrub(m.State, secrets...)
		}
	}
	for name := range p.opts.hooks {
		if !slices.ContainsFunc(p.Members, func(m supervisor.Member) bool { return m.Name == name }) && name != "" {
			if _, isExtra := p.cfg.Extra[name]; !isExtra {
				errs = append(errs, &ConfigError{Database: name, Err: fmt.Errorf("WithHooks: %w", ErrUnknownDatabase)})
			}
		}
	}
	for name := range p.opts.rollback {
		i := slices.IndexFunc(p.Members, func(m supervisor.Member) bool { return m.Name == name })
		switch {
		case i < 0:
			if _, isExtra := p.cfg.Extra[name]; !isExtra || name == "" {
				errs = append(errs, &ConfigError{Database: name, Err: fmt.Errorf("WithForceRollback: %w", ErrUnknownDatabase)})
			}
		case !p.Members[i].Owned:
			errs = append(errs, &ConfigError{Database: name, Err: errors.New("WithForceRollback: a shared database's sandbox belongs to the registry that owns it")})
		case p.Members[i].State.Memory():
			// Its one connection would be the sandbox's: DDL and DB() would wait forever.
			errs = append(errs, &ConfigError{Database: name, Err: fmt.Errorf("%w: WithForceRollback on an in-memory SQLite database (its only connection would be the sandbox's); use a file", ErrUnsupported)})
		}
	}
	return errors.Join(errs...)
}
