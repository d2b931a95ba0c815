package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/internal/plumbing"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/supervisor"
)

// DefaultTimeout bounds a call whose context has no deadline, and a request
// message that carries none.
const DefaultTimeout = 30 * time.Second

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
	// DefaultTimeout.
	Timeout time.Duration
	// WithContentType registers a ContentType model (table contenttypes)
	// and gives every other model a unique, non-null content_type column
	// referencing it, ON DELETE CASCADE (Edgy's with_content_type). Models
	// opt out with models.NoContentType or a content_type column of their own.
	WithContentType bool
	// Health configures each connected database's idle health pings and
	// its recovery probes after an outage (see actors.HealthOptions). The zero value
	// pings every 5 s and probes with backoff from 500 ms to 30 s.
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

// Hooks are functions run by a database's actor when its pool opens
// (OnConnect, before) and closes (OnDisconnect, after).
type Hooks = actors.Hooks

// Option adjusts a registry beyond its Config.
type Option func(*options)

type options struct {
	logger *slog.Logger
	shared []sharedDB
	hooks  map[string]Hooks
	name   string
	events func(messages.Event)
	// rollback names the databases in a rollback sandbox.
	rollback   map[string]bool
	instrument actors.Instrumentation
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
func WithHooks(database string, hooks Hooks) Option {
	return func(o *options) {
		if o.hooks == nil {
			o.hooks = map[string]Hooks{}
		}
		o.hooks[database] = hooks
	}
}

// WithLogger sends the registry's logs (warnings, lifecycle at Debug) to
// logger. Without it the registry logs nothing.
func WithLogger(logger *slog.Logger) Option {
	return func(o *options) { o.logger = logger }
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
// the registry actor (ModelRegistered) or the database actor itself (the
// connect and disconnect events): return quickly, and do not call back into
// the database whose connect or disconnect event it handles (its actor is
// busy running the hook). A panic in it is recovered and logged. A database shared
// from another registry reports to its owner's hook.
func WithEventHook(hook func(messages.Event)) Option {
	return func(o *options) { o.events = hook }
}

// WithName spawns the registry actor under a well-known name instead of a
// generated one, so other actors (and later other nodes) can address it.
func WithName(name string) Option {
	return func(o *options) { o.name = name }
}

// plan is a validated configuration: what the registry actor, its
// supervisor and the facade share. It outlives actor restarts.
type plan struct {
	cfg     Config
	opts    options
	logger  *slog.Logger
	timeout time.Duration
	members []supervisor.Member // main first, then extras by name
	// err is set when the configuration is invalid: a registry actor spawned
	// from such props answers every request with it.
	err error
	// owner is the registry actor using these States.
	owner atomic.Pointer[actor.PID]
	// closed is set by the registry actor once Close has begun; it survives
	// a restart of that actor. Only the actor's Receive touches it.
	closed bool
	// held counts registry-wide connects not yet matched by a disconnect:
	// what the registry must give back on shared databases when it stops.
	held atomic.Int64
	// book holds the models and callbacks; the registry actor changes it.
	book *book
	// work counts schema requests under way outside the registry actor:
	// Close lets them finish (and give their counts back) first.
	work sync.WaitGroup
	// jobsLife ends every schema job (endJobs) when Close has waited long
	// enough for them.
	jobsLife context.Context
	endJobs  context.CancelFunc
	// supervisor is the supervisor actor, for the registry's strategy.
	supervisor atomic.Pointer[actor.PID]
	// tracked holds the tracked registry-wide requests under way (the
	// registry's copy of the request → *pendingOp), for the supervisor's
	// Answered hook.
	tracked sync.Map
}

// waitWork waits up to d for schema requests under way and reports whether
// they all finished.
func (p *plan) waitWork(d time.Duration) bool {
	done := make(chan struct{})
	go func() { p.work.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func newPlan(cfg Config, opts ...Option) *plan {
	p := basePlan(cfg, opts...)
	p.err = p.build()
	if p.err == nil {
		p.err = p.buildBook(nil)
	}
	return p
}

// basePlan applies opts and the defaults; members and book come after.
func basePlan(cfg Config, opts ...Option) *plan {
	p := &plan{cfg: cfg}
	p.jobsLife, p.endJobs = context.WithCancel(context.Background())
	for _, o := range opts {
		o(&p.opts)
	}
	p.logger = p.opts.logger
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	p.timeout = cfg.Timeout
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	return p
}

// buildBook makes the model book: the content-type model and its callback
// when configured, then the models of src (a registry being copied).
func (p *plan) buildBook(src *book) error {
	dbs := map[string]bool{}
	for _, m := range p.members {
		dbs[m.Name] = true
	}
	p.book = newBook(p.cfg.Schema, dbs)
	if p.cfg.WithContentType {
		if err := p.book.setContentType(); err != nil {
			return err
		}
	}
	if src == nil {
		return nil
	}
	view := src.view.Load()
	for _, m := range view.models {
		if view.contentType != nil && m == view.contentType {
			continue
		}
		if _, _, err := p.book.register(m.Copy().Def(), messages.OnConflict_ON_CONFLICT_KEEP); err != nil {
			return fmt.Errorf("dbactor: copying model %q: %w", m.Name(), err)
		}
	}
	return nil
}

// build validates everything and reports every problem at once.
func (p *plan) build() error {
	var errs []error
	stateOpts := func(name string) actors.StateOptions {
		return actors.StateOptions{Hooks: p.opts.hooks[name], Logger: p.logger, DefaultTimeout: p.timeout,
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
		p.members = append(p.members, supervisor.Member{Name: name, State: st, Owned: true})
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
			p.logger.Warn("dbactor: extra database name has surrounding whitespace", "name", e.name)
		}
		if e.db != nil {
			if _, ok := p.opts.hooks[e.name]; ok {
				errs = append(errs, &ConfigError{Database: e.name, Err: errors.New("hooks of a shared database belong to the registry that owns it")})
			}
			p.members = append(p.members, supervisor.Member{Name: e.name, State: e.db.state})
			continue
		}
		owned(e.name, e.url)
	}
	// Any log line or error of one database may quote another's password
	// (a statement, a panic value): each scrubs them all.
	var secrets []string
	for _, m := range p.members {
		secrets = append(secrets, plumbing.Secrets(m.State)...)
	}
	for _, m := range p.members {
		if m.Owned {
			plumbing.AlsoScrub(m.State, secrets...)
		}
	}
	for name := range p.opts.hooks {
		if !slices.ContainsFunc(p.members, func(m supervisor.Member) bool { return m.Name == name }) && name != "" {
			if _, isExtra := p.cfg.Extra[name]; !isExtra {
				errs = append(errs, &ConfigError{Database: name, Err: fmt.Errorf("WithHooks: %w", ErrUnknownDatabase)})
			}
		}
	}
	for name := range p.opts.rollback {
		i := slices.IndexFunc(p.members, func(m supervisor.Member) bool { return m.Name == name })
		switch {
		case i < 0:
			if _, isExtra := p.cfg.Extra[name]; !isExtra || name == "" {
				errs = append(errs, &ConfigError{Database: name, Err: fmt.Errorf("WithForceRollback: %w", ErrUnknownDatabase)})
			}
		case !p.members[i].Owned:
			errs = append(errs, &ConfigError{Database: name, Err: errors.New("WithForceRollback: a shared database's sandbox belongs to the registry that owns it")})
		case p.members[i].State.Memory():
			// Its one connection would be the sandbox's: DDL and DB() would wait forever.
			errs = append(errs, &ConfigError{Database: name, Err: fmt.Errorf("%w: WithForceRollback on an in-memory SQLite database (its only connection would be the sandbox's); use a file", ErrUnsupported)})
		}
	}
	return errors.Join(errs...)
}

// scrub removes the password of every database of the registry from text.
func (p *plan) scrub(text string) string {
	for _, m := range p.members {
		text = m.State.Scrub(text)
	}
	return text
}

// owned lists the states this registry owns (and closes).
func (p *plan) owned() []*actors.State {
	var out []*actors.State
	for _, m := range p.members {
		if m.Owned {
			out = append(out, m.State)
		}
	}
	return out
}
