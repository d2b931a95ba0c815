package actors

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/echo"
	"github.com/dbactor/dbactor/internal/pgdb"
	"github.com/dbactor/dbactor/internal/sqlite"
	"github.com/dbactor/dbactor/messages"
)

// State is everything a database actor owns that must survive a restart of
// the actor: its configuration, ref count and open handles. Only the database
// actor changes the count and opens pools (its mailbox serialises that);
// Pool, DB, RefCount and Connected may be read from any goroutine.
type State struct {
	name           string
	cfg            *dsn.Config
	hooks          Hooks
	logger         *slog.Logger
	defaultTimeout time.Duration

	pid      atomic.Pointer[actor.PID]
	refCount atomic.Int64 // written only by the actor
	closed   atomic.Bool  // for good: the registry closed it
	// life ends when the database is closed for good: work under way (an
	// open, a hook) is cut short rather than holding Close up.
	life   context.Context
	end    context.CancelFunc
	pool   atomic.Pointer[pgxpool.Pool]
	db     atomic.Pointer[sql.DB]
	sqlite atomic.Pointer[sqlite.DB] // SQLite only: owns db and the schema set

	mu      sync.Mutex
	closing chan struct{}   // closed when the most recent close has finished
	watch   *watcher        // the running health loop, under mu
	stopped []chan struct{} // health loops stopped, perhaps not yet returned

	healthOpts HealthOptions
	events     func(messages.Event)
	secrets    []string // what Scrub removes

	instrument    Instrumentation
	closingHook   atomic.Pointer[func()] // the open pool's Instrumentation.Opened result
	forceRollback bool
	sb            atomic.Pointer[sandbox] // the open pool's, force rollback only
	// superuserWarned is set once a peer's statement was found to run as
	// a PostgreSQL superuser (and that was logged).
	superuserWarned atomic.Bool
	hmu             sync.Mutex
	h               health
	// wake asks the health loop for a check now: a statement failed with a
	// connection-class error (see failed).
	wake chan struct{}

	queries queries // the Query and Exec workers, see query.go
}

// StateOptions configure NewState.
type StateOptions struct {
	Hooks Hooks
	// Logger receives the actor's lifecycle logs; nil discards them.
	Logger *slog.Logger
	// DefaultTimeout bounds requests that carry no deadline.
	DefaultTimeout time.Duration
	// Health configures the health checks and recovery probes.
	Health HealthOptions
	// Instrument lets tracing and metrics see the pools.
	Instrument Instrumentation
	// ForceRollback runs every Run operation in one transaction that is
	// rolled back when the count returns to 0 (databasez force_rollback).
	ForceRollback bool
	// Events, when set, receives every event the database publishes (after
	// the actor system's EventStream). It runs on the publishing goroutine:
	// return quickly. A panic in it is recovered and logged.
	Events func(messages.Event)
	// Query configures the workers that run messages.Query and
	// messages.Exec, and the default limits of a Query's result.
	Query QueryOptions
}

// NewState prepares the state of database name ("" is the main database)
// at url, a PostgreSQL or SQLite database URL; the error is the URL's
// (its passwords removed).
func NewState(name, url string, opts StateOptions) (*State, error) {
	cfg, err := dsn.Parse(url)
	if err != nil {
		return nil, err
	}
	return newState(name, cfg, opts), nil
}

func newState(name string, cfg *dsn.Config, opts StateOptions) *State {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.DefaultTimeout <= 0 {
		opts.DefaultTimeout = 30 * time.Second
	}
	done := make(chan struct{})
	close(done)
	life, end := context.WithCancel(context.Background())
	return &State{
		name:           name,
		cfg:            cfg,
		hooks:          opts.Hooks,
		logger:         logger.With("database", messages.DisplayName(name)),
		defaultTimeout: opts.DefaultTimeout,
		closing:        done,
		life:           life,
		end:            end,
		healthOpts:     opts.Health.withDefaults(),
		events:         opts.Events,
		secrets:        cfg.Secrets(),
		forceRollback:  opts.ForceRollback,
		instrument:     opts.Instrument,
		queries:        queries{opts: opts.Query.withDefaults()},
		wake:           make(chan struct{}, 1),
	}
}

// Name is the database's name in its registry ("" for the main database).
func (s *State) Name() string { return s.name }

// Dialect is the database's SQL dialect: "postgres" or "sqlite".
func (s *State) Dialect() string { return string(s.cfg.Dialect) }

// RedactedURL is the configured URL with its password replaced.
func (s *State) RedactedURL() string { return s.cfg.Redacted }

// PID is the database actor's PID, nil before it is spawned
// (DatabaseProps records it).
func (s *State) PID() *actor.PID { return s.pid.Load() }

// Pool is the open pgx pool (PostgreSQL only), nil when closed.
func (s *State) Pool() *pgxpool.Pool { return s.pool.Load() }

// DB is the open *sql.DB, nil when closed.
func (s *State) DB() *sql.DB { return s.db.Load() }

// sqliteDB is the open SQLite database with its schemas (attached database
// files, see internal/sqlite): CreateSchema, DropSchema and Schemas go
// through it. Its SQL() is DB(). nil when closed and for PostgreSQL.
func (s *State) sqliteDB() *sqlite.DB { return s.sqlite.Load() }

// RefCount is the current ref count.
func (s *State) RefCount() int64 { return s.refCount.Load() }

// Closed reports whether the database was closed for good (its registry
// closed): it answers every request with CODE_CLOSED until its actor stops.
func (s *State) Closed() bool { return s.closed.Load() }

// Status is the database's state as a protocol message. Read without a
// round trip it is a snapshot; the actor's answer to GetStatus is ordered
// with its other requests.
func (s *State) Status() *messages.Status {
	st := &messages.Status{
		Database:    s.name,
		Connected:   s.Connected(),
		RefCount:    s.refCount.Load(),
		Dialect:     string(s.cfg.Dialect),
		RedactedUrl: s.cfg.Redacted,
	}
	if st.Connected {
		s.healthOf(st)
	}
	return st
}

// Connected reports whether the pool is open.
func (s *State) Connected() bool { return s.db.Load() != nil }

// open opens the pool and pings it, bounded by ctx and the connect
// timeout, which counts from since (when the connect was sent). A failure
// because either ran out names the server and the bound that fired.
func (s *State) open(ctx context.Context, since time.Time) (err error) {
	outer := ctx
	budget := "the request's deadline"
	if dl, ok := ctx.Deadline(); ok {
		budget = fmt.Sprintf("the request's deadline (%s)", time.Until(dl).Round(time.Millisecond))
	}
	if t := s.cfg.ConnectTimeout; t > 0 { // 0: no limit but the request's deadline (libpq)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, since.Add(t))
		defer cancel()
		defer func() {
			// pgx applies connect_timeout to each attempt too: its timer
			// may fire a moment before ours.
			if err != nil && outer.Err() == nil && (ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
				err = fmt.Errorf("no answer from %s within connect_timeout %s: %w", s.where(), t, err)
			}
		}()
	}
	defer func() {
		switch {
		case err == nil || outer.Err() == nil:
		case errors.Is(outer.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("no answer from %s within %s: %w", s.where(), budget, err)
		default:
			err = fmt.Errorf("cancelled while connecting to %s: %w", s.where(), err)
		}
	}()
	return s.openPool(ctx)
}

// where is the server a connect goes to: host:port (each fallback too)
// for PostgreSQL, never the user or password; the file for SQLite.
func (s *State) where() string {
	if s.cfg.Postgres == nil {
		return "the database file"
	}
	cc := s.cfg.Postgres.ConnConfig
	hosts := []string{net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))}
	for _, f := range cc.Fallbacks {
		if h := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return strings.Join(hosts, ", ")
}

func (s *State) openPool(ctx context.Context) error {
	switch s.cfg.Dialect {
	case dsn.Postgres:
		pcfg := s.cfg.Postgres.Copy()
		pcfg.ConnConfig.Tracer = s.tracer()
		limitDescriptions(pcfg.ConnConfig)
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return err
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return err
		}
		s.pool.Store(pool)
		s.opened(pgdb.OpenDB(pool))
		return nil
	case dsn.SQLite:
		// Pool settings (MaxOpenConns, the memory database's one connection)
		// are sqlite.Open's.
		sdb, err := sqlite.Open(s.cfg.SQLite)
		if err != nil {
			return err
		}
		if f := s.statement(); f != nil {
			sdb.SetEcho(f)
		}
		sdb.SetOnError(s.failed)
		if err := sdb.SQL().PingContext(ctx); err != nil {
			sdb.Close()
			return err
		}
		s.sqlite.Store(sdb)
		s.opened(sdb.SQL())
		return nil
	}
	return fmt.Errorf("unsupported dialect %q", s.cfg.Dialect)
}

// opened publishes db (and its sandbox, for a force-rollback database).
func (s *State) opened(db *sql.DB) {
	if s.forceRollback {
		s.sb.Store(newSandbox(db))
	}
	if s.instrument.Opened != nil {
		if closing := s.instrument.Opened(s.name, s.pool.Load(), db); closing != nil {
			s.closingHook.Store(&closing)
		}
	}
	s.db.Store(db)
}

// echo logs the pool's statements (the URL's echo=true).
func (s *State) echo() *echo.Echo { return &echo.Echo{Logger: s.logger, Scrub: s.Scrub} }

// startClose drops the handles, so Pool and DB return nil at once, and closes
// them in the background: closing a pool waits for every acquired connection
// to be released, which only its users can do. The returned channel is
// closed when both are closed.
func (s *State) startClose() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, pool, sdb := s.db.Swap(nil), s.pool.Swap(nil), s.sqlite.Swap(nil)
	sb := s.sb.Swap(nil)
	hook := s.closingHook.Swap(nil)
	s.stopHealth()
	s.cut(db) // statements running on it end rather than hold the close up
	s.retireParked()
	if db == nil && pool == nil {
		return s.closing
	}
	prev, done := s.closing, make(chan struct{})
	s.closing = done
	go func() {
		defer close(done)
		<-prev // closes finish in order, so WaitClosed covers them all
		if sb != nil {
			sb.close() // everything it did is rolled back, its connection returned
		}
		if hook != nil {
			(*hook)() // before the pool goes: metrics stop reading it
		}
		switch {
		case sdb != nil:
			_ = sdb.Close() // closes db, its pool
		case db != nil:
			_ = db.Close() // the sql.DB of a pgx pool owns no connections
		}
		if pool != nil {
			pool.Close()
		}
	}()
	return done
}

// WaitClosed waits until every close started so far has finished, every
// health loop has returned and no query worker runs, or ctx ends.
func (s *State) WaitClosed(ctx context.Context) error {
	s.mu.Lock()
	done := s.closing
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("%s: pool still has acquired connections: %w", messages.DisplayName(s.name), context.Cause(ctx))
	}
	for {
		s.mu.Lock()
		var loop chan struct{}
		if len(s.stopped) > 0 {
			loop = s.stopped[0]
		}
		s.mu.Unlock()
		if loop == nil {
			return s.waitWorkers(ctx)
		}
		select {
		case <-loop:
			s.mu.Lock()
			if len(s.stopped) > 0 && s.stopped[0] == loop {
				s.stopped = s.stopped[1:]
			}
			s.mu.Unlock()
		case <-ctx.Done():
			return fmt.Errorf("%s: health loop still running an event hook: %w", messages.DisplayName(s.name), context.Cause(ctx))
		}
	}
}

// Shutdown closes whatever is open for good and sets the count to 0,
// without waiting (WaitClosed waits). The database actor calls it on Close;
// the owning registry calls it again once the actor has stopped.
func (s *State) Shutdown() {
	s.closed.Store(true)
	s.end()
	s.refCount.Store(0)
	s.startClose()
}

// errClosing: the pool did not finish closing by the deadline. It waits
// for acquired connections to come back, and pgx waits (up to 15 s) for the
// cancel requests of queries that timed out to be sent over the network.
var errClosing = errors.New("pool still closing: connections still in use, or the driver still cancelling queries that timed out")
