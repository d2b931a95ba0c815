package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/internal/regactor"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/supervisor"
)

// Registry is a main database plus named extra databases, connected and
// disconnected as one unit. It fronts a registry actor (PID) whose
// supervisor owns one actor per database. Safe for use from any goroutine.
type Registry struct {
	caller    *request.Caller
	gate      *request.Gate
	pid       *actor.PID
	plan      *plan
	ownSystem bool
	main      *Database
	extras    map[string]*Database
	order     []*Database // main first, then extras by name

	// startup is WithStartup's state: a one-slot lock (so a waiting
	// Connect can give up with its ctx) and whether fn has succeeded.
	startup     chan struct{}
	startupDone bool

	closeOnce sync.Once
	closeDone chan struct{} // closed when shutdown has finished
	closeErr  error         // written before closeDone is closed
}

// Props returns the props of a registry actor for cfg, to spawn it as a child
// of your own actor (or anywhere) and talk to it with messages: every
// request of the protocol (see Registry.PID; client.Async from inside an
// actor). An invalid cfg does not panic: the
// actor answers every request with an ErrInvalidConfig error. Spawn the
// props once; the databases they describe belong to that one actor. You
// choose its name when you spawn it (WithName applies to New only). When
// its parent stops it, it closes its databases and gives back what it holds
// on shared ones; a restart by the parent's strategy keeps pools and counts.
func Props(cfg Config, opts ...Option) *actor.Props {
	return regactor.Props(newPlan(cfg, opts...).Plan)
}

// New spawns a registry actor in system (or, when system is nil, in a new
// quiet actor system of its own, shut down by Close) and returns its facade.
// Every configuration problem is reported at once, joined, and matches
// ErrInvalidConfig; nothing is spawned then. New connects nothing: call
// Connect.
func New(system *actor.ActorSystem, cfg Config, opts ...Option) (*Registry, error) {
	return start(system, newPlan(cfg, opts...))
}

// start spawns the registry actor of p and builds its facade.
func start(system *actor.ActorSystem, p *plan) (*Registry, error) {
	if p.Err != nil {
		return nil, p.Err
	}
	own := system == nil
	for _, s := range p.opts.shared {
		if own || s.db.caller.System != system {
			return nil, &ConfigError{Database: s.name, Err: errors.New("WithExtraDatabase: the database belongs to another actor system")}
		}
	}
	if own {
		// Proto.Actor's own chatter goes only to a logger given by hand.
		system = NewActorSystem(p.opts.logger)
	}
	// A root-level actor is supervised by its guardian strategy.
	rp := regactor.Props(p.Plan).Configure(actor.WithGuardian(supervisor.Resume))
	var pid *actor.PID
	if p.opts.name != "" {
		var err error
		if pid, err = system.Root.SpawnNamed(rp, p.opts.name); err != nil {
			if own {
				system.Shutdown()
			}
			return nil, fmt.Errorf("%w: WithName: registry name %q: %w", ErrInvalidConfig, p.opts.name, err)
		}
	} else {
		pid = system.Root.SpawnPrefix(rp, "dbactor-registry")
	}
	g := &request.Gate{}
	r := &Registry{
		caller:    &request.Caller{System: system, Gates: []*request.Gate{g}, Timeout: p.Timeout, Refuse: p.refuseInHook},
		gate:      g,
		pid:       pid,
		plan:      p,
		ownSystem: own,
		extras:    map[string]*Database{},
		closeDone: make(chan struct{}),
		startup:   make(chan struct{}, 1),
	}
	// The supervisor answers once it has spawned every database actor.
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	if _, err := request.Request(ctx, system, pid, &messages.ListDatabases{}, 0); err != nil {
		_ = request.WaitStopped(ctx, system, pid, false)
		if own {
			system.Shutdown()
		}
		return nil, fmt.Errorf("dbactor: starting registry: %w", request.Err(err))
	}
	for _, m := range p.Members {
		db := &Database{name: m.Name, state: m.State, caller: r.caller, owner: pid, ownerGate: g}
		if !m.Owned {
			// Closed to this registry's callers when either registry closes.
			owner := p.shared(m.Name)
			db.owner = owner.owner
			db.ownerGate = owner.ownerGate
			db.caller = &request.Caller{System: system, Gates: []*request.Gate{g, owner.ownerGate}, Timeout: p.Timeout, Refuse: p.refuseInHook}
		}
		r.order = append(r.order, db)
		if m.Name == "" {
			r.main = db
		} else {
			r.extras[m.Name] = db
		}
	}
	return r, nil
}

// shared is the owner's handle on the database shared under name.
func (p *plan) shared(name string) *Database {
	for _, s := range p.opts.shared {
		if s.name == name {
			return s.db
		}
	}
	return nil
}

// PID is the registry actor: send it any request of the protocol
// (messages.Connect, Disconnect, GetStatus, ListDatabases, the schema,
// model and callback requests), from the root context or from any actor —
// from inside an actor, client.Async does it without blocking Receive.
func (r *Registry) PID() *actor.PID { return r.pid }

// System is the actor system the registry runs in. When New made it (a nil
// system), Close shuts it down: do not shut it down yourself.
func (r *Registry) System() *actor.ActorSystem { return r.caller.System }

// Schema is the configured default schema for models ("" when unset).
func (r *Registry) Schema() string { return r.plan.cfg.Schema }

// Database is the main database (Edgy's registry.database).
func (r *Registry) Database() *Database { return r.main }

// Extra is the extra database called name; the error matches
// ErrUnknownDatabase when there is none.
func (r *Registry) Extra(name string) (*Database, error) {
	if db, ok := r.extras[name]; ok {
		return db, nil
	}
	return nil, fmt.Errorf("%w: %q is not configured in extra", ErrUnknownDatabase, name)
}

// Databases lists every database: the main one first, then the extras
// ordered by name.
func (r *Registry) Databases() []*Database { return append([]*Database(nil), r.order...) }

// Connect connects every database, all or nothing (Edgy's
// `async with registry`): every database's ref count goes up by one. The
// databases connect concurrently; if any fails, every one that succeeded is
// disconnected again and Connect returns one *ConnectError per failed
// database (errors.Join: main database first, then extras by name), then any
// rollback failure. Nested Connects raise every count again. If ctx is
// cancelled while the connect is under way, what it connected is
// disconnected again. With WithConnectRetry, a connect that fails only
// because databases could not be reached is tried again until ctx ends.
func (r *Registry) Connect(ctx context.Context) error {
	var err error
	if r.plan.opts.retry {
		err = r.connectRetrying(ctx)
	} else {
		_, err = ops.Do(ctx, r.caller, r.pid, ops.ConnectAll(nil))
	}
	if err != nil || r.plan.opts.startup == nil {
		return err
	}
	return r.runStartup(ctx)
}

// runStartup runs WithStartup's fn once it has succeeded, inside a Connect
// that has just succeeded; if fn fails (or ctx ends while another Connect
// runs it), that connect is rolled back.
func (r *Registry) runStartup(ctx context.Context) error {
	select {
	case r.startup <- struct{}{}:
	case <-ctx.Done():
		return joinErrors(fmt.Errorf("dbactor: connect: waiting for the startup function: %w", request.Err(context.Cause(ctx))),
			r.disconnectOwed(ctx))
	}
	defer func() { <-r.startup }()
	if r.startupDone {
		return nil
	}
	if err := runStartupFn(ctx, r); err != nil {
		return joinErrors(fmt.Errorf("dbactor: connect: startup: %w", err), r.disconnectOwed(ctx))
	}
	r.startupDone = true
	return nil
}

// runStartupFn runs fn, turning a panic into an error (the connect must
// still be rolled back).
func runStartupFn(ctx context.Context, r *Registry) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("startup function panicked: %v", p)
		}
	}()
	return r.plan.opts.startup(ctx, r)
}

// Disconnect disconnects every database once (each ref count goes down by
// one; a database closes when its count reaches 0). Every database is
// attempted, concurrently; failures are joined.
func (r *Registry) Disconnect(ctx context.Context) error {
	_, err := ops.Do(ctx, r.caller, r.pid, ops.DisconnectAll(nil))
	return err
}

// Close stops the registry: it refuses new calls, waits for those in flight,
// gives back what this registry still holds on databases shared from other
// registries, answers every request already queued at its actors, stops
// them, and closes every pool it owns, whatever their counts. Close blocks
// until all of that is done or ctx ends; the shutdown itself does not depend
// on ctx (each of its stages is bounded by Config.Timeout), so a Close with
// an expired context still releases everything, and a later Close waits for
// it. Close is idempotent; every other call fails fast with ErrClosed
// afterwards. Do not call Close from a hook: it waits for the call running
// the hook (from a model hook it fails at once, see RegisterModelHook).
func (r *Registry) Close(ctx context.Context) error {
	if err := r.plan.refuseInHook(); err != nil {
		return err
	}
	r.closeOnce.Do(func() { go r.shutdown() })
	select {
	case <-r.closeDone:
	case <-ctx.Done():
		return fmt.Errorf("dbactor: close: %w", request.Err(context.Cause(ctx)))
	}
	return errors.Join(r.closeErr, r.waitPools(ctx))
}

func (r *Registry) shutdown() {
	defer close(r.closeDone)
	// Each stage has its own budget: one that runs out must not cost the
	// next one its chance (the actors must still be closed and stopped).
	stage := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), r.caller.Timeout)
	}
	var errs []error
	ctx, cancel := stage()
	if _, err := r.gate.Shut(ctx); err != nil {
		errs = append(errs, err)
	}
	cancel()
	// The registry waits for schema work (twice Config.Timeout at most);
	// the supervisor waits for operations, releases shared databases and
	// closes its own, each within Config.Timeout.
	ctx, cancel = context.WithTimeout(context.Background(), 5*r.caller.Timeout+time.Second)
	if reply, err := request.Request(ctx, r.caller.System, r.pid, &regactor.Close{}, 0); err != nil {
		errs = append(errs, fmt.Errorf("dbactor: close: %w", request.Err(err)))
	} else if c, ok := reply.(*inproc.SupervisorClosed); ok && c.Err != nil {
		errs = append(errs, fmt.Errorf("dbactor: close: %w", c.Err))
	}
	cancel()
	// Poison, not Stop: requests already queued are answered first.
	ctx, cancel = stage()
	err := request.WaitStopped(ctx, r.caller.System, r.pid, true)
	cancel()
	if err != nil {
		errs = append(errs, fmt.Errorf("dbactor: close: stopping the registry actor: %w", request.Err(err)))
	} else {
		// It sends the events (and replies) it was handed, then stops.
		ctx, cancel = stage()
		if err := r.plan.WaitFanOut(ctx); err != nil {
			errs = append(errs, fmt.Errorf("dbactor: close: %w", err))
		}
		cancel()
	}
	if r.ownSystem && !r.caller.System.IsStopped() {
		r.caller.System.Shutdown()
	}
	r.closeErr = errors.Join(errs...)
}

func (r *Registry) waitPools(ctx context.Context) error {
	var errs []error
	for _, s := range r.plan.Owned() {
		if err := s.WaitClosed(ctx); err != nil {
			errs = append(errs, fmt.Errorf("dbactor: close: %w", request.Err(err)))
		}
	}
	return errors.Join(errs...)
}

// String describes the registry without any password.
func (r *Registry) String() string {
	return fmt.Sprintf("dbactor.Registry{pid=%s databases=%d}", r.pid.GetId(), len(r.order))
}
