package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/drain"
	"github.com/dbactor/dbactor/internal/events"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/plumbing"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

// Member is a database the supervisor manages.
type Member struct {
	Name  string
	State *actors.State
	// Owned databases are spawned (and respawned) by this supervisor. A
	// database shared from another registry is not: its actor lives there.
	Owned bool
}

// Options configure the supervisor.
type Options struct {
	Logger *slog.Logger
	// DefaultTimeout bounds requests that carry no deadline.
	DefaultTimeout time.Duration
	// RollbackTimeout bounds undoing a failed connect, which runs even when
	// the caller's deadline has passed, releasing shared databases, and
	// closing owned ones.
	RollbackTimeout time.Duration
	// Scrub removes passwords from text (crash reasons); nil: identity.
	Scrub func(string) string
	// Events, when set, receives the ActorCrashed events of the supervisor's
	// children (after the actor system's EventStream).
	Events func(messages.Event)
}

// Props returns the supervisor's props. members lists the main database
// first, then the extras in registry order.
func Props(members []Member, opts Options) *actor.Props {
	return props(members, opts, plumbing.SupervisorHooks{})
}

// A registry's supervisor: Props with the registry's hooks.
func init() {
	plumbing.SupervisorProps = func(members, opts any, hooks plumbing.SupervisorHooks) *actor.Props {
		return props(members.([]Member), opts.(Options), hooks)
	}
}

func props(members []Member, opts Options, hooks plumbing.SupervisorHooks) *actor.Props {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DefaultTimeout <= 0 {
		opts.DefaultTimeout = 30 * time.Second
	}
	if opts.RollbackTimeout <= 0 {
		opts.RollbackTimeout = 10 * time.Second
	}
	if hooks.Held == nil {
		hooks.Held = new(atomic.Int64)
	}
	if opts.Scrub == nil {
		opts.Scrub = func(s string) string { return s }
	}
	core := &core{members: members, opts: opts, hooks: hooks}
	core.drain = drain.New(func(req any) any { return inproc.FailedReply(req, closedError()) })
	children := &Strategy{Directive: actor.RestartDirective, Logger: opts.Logger, Events: opts.Events, Scrub: opts.Scrub,
		Database: func(pid *actor.PID) string {
			for _, mb := range members {
				if p := mb.State.PID(); p != nil && p.Equal(pid) {
					return mb.Name
				}
			}
			return ""
		}}
	return actor.PropsFromProducerWithActorSystem(
		func(sys *actor.ActorSystem) actor.Actor { return &supervisorActor{core: core, faults: faults.For(sys)} },
		actor.WithSupervisor(children), core.drain.Props(),
		actor.WithReceiverMiddleware(crash.Guard(opts.Scrub, func(c actor.ReceiverContext, msg any, cr *crash.Crash) {
			opts.Logger.Error("dbactor: supervisor crashed handling a lifecycle message; carrying on", "message", fmt.Sprintf("%T", msg), "reason", cr.Reason)
			events.Publish(c.ActorSystem(), opts.Events, opts.Logger, opts.Scrub, &messages.ActorCrashed{
				Actor: c.Self().GetId(), MessageType: fmt.Sprintf("%T", msg), Reason: cr.Reason, Directive: "ignored",
			})
		})),
	)
}

// core is shared by every instance of one supervisor, so that a restart
// keeps the members and the operations in flight.
type core struct {
	members []Member
	opts    Options
	hooks   plumbing.SupervisorHooks // a registry's; Held never nil
	ops     sync.WaitGroup
	// closing is set by Close; only Receive reads or writes it.
	closing bool

	// stopped is set when the supervisor stops (its registry stopped): a
	// connect finishing afterwards is rolled back, not counted in Held, which
	// the registry has released by then.
	mu      sync.Mutex
	stopped bool

	drain *drain.Drain
}

// hold records a successful registry-wide connect in Held, unless the
// supervisor has stopped; it reports whether it did.
func (c *core) hold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false
	}
	c.hooks.Held.Add(1)
	return true
}

func (c *core) stop() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
}

type supervisorActor struct {
	*core
	// faults is the system's test fault injector: nil in production.
	faults *faults.Injector
}

// Receive implements actor.Actor.
func (a *supervisorActor) Receive(c actor.Context) {
	a.faults.Hit(faults.SupervisorReceive, c.Self(), c.Message())
	if deadline.Invalid(c.Message()) {
		if c.Sender() != nil {
			c.Respond(inproc.FailedReply(c.Message(), &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "invalid deadline timestamp"}))
		}
		return
	}
	if a.expired(c) {
		return
	}
	switch m := c.Message().(type) {
	case *actor.Started:
		for _, mb := range a.members {
			if mb.Owned {
				a.spawn(c, mb)
			}
		}
	case *actor.Stopping:
		a.stop()
	case *actor.Stopped:
		a.drain.Stopped(c.ActorSystem(), nil)
	case *messages.Connect:
		switch {
		case m.GetTarget() != nil:
			a.forward(c, m.GetTarget(), m.GetDeadline())
		case !a.closing && a.single():
			a.direct(c, m.GetDeadline(), false)
		case a.closing:
			a.answered(m, inproc.FailedReply(m, closedError()))
			c.Respond(inproc.FailedReply(m, closedError()))
		default:
			a.fanOut(c, m.GetDeadline(), a.connectAll, nil)
		}
	case *messages.Disconnect:
		switch {
		case m.GetTarget() != nil:
			a.forward(c, m.GetTarget(), m.GetDeadline())
		case !a.closing && a.single():
			a.direct(c, m.GetDeadline(), m.GetForce())
		case a.closing:
			a.answered(m, inproc.FailedReply(m, closedError()))
			c.Respond(inproc.FailedReply(m, closedError()))
		default:
			force := m.GetForce()
			// Claimed before anything is sent, so a stop of the registry
			// meanwhile cannot give the same hold back twice.
			claimed := a.unhold()
			a.fanOut(c, m.GetDeadline(), func(ctx context.Context, sys *actor.ActorSystem, d time.Time) any {
				outcomes := a.disconnectAll(ctx, sys, a.members, force, d, false)
				if claimed && !SharedReleased(a.members, outcomes) {
					a.hold() // nothing was given back: the hold is still ours
				}
				return DisconnectReply(outcomes)
			}, func() {
				if claimed {
					a.hold() // crashed before disconnecting anything
				}
			})
		}
	case *messages.GetStatus:
		t := m.GetTarget()
		if t == nil {
			t = &messages.Target{} // the main database
		}
		a.forward(c, t, nil)
	case *messages.Query:
		a.forward(c, orMain(m.GetTarget()), m.GetDeadline())
	case *messages.Exec:
		a.forward(c, orMain(m.GetTarget()), m.GetDeadline())
	case *inproc.PeerStatement:
		// Routed like its Request, and handed on whole: the database
		// actor holds the statement to the peer's grant.
		var req proto.Message
		if m != nil {
			req = m.Request
		}
		switch r := req.(type) {
		case *messages.Query:
			a.forward(c, orMain(r.GetTarget()), r.GetDeadline())
		case *messages.Exec:
			a.forward(c, orMain(r.GetTarget()), r.GetDeadline())
		default:
			if reply := inproc.FailedReply(m, &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT,
				Message: fmt.Sprintf("PeerStatement: Request is %T, not a *messages.Query or *messages.Exec", req)}); reply != nil && c.Sender() != nil {
				c.Respond(reply)
			}
		}
	case *messages.ListDatabases:
		list := &messages.DatabaseList{}
		for _, mb := range a.members {
			list.Databases = append(list.Databases, messages.Relabel(mb.State.Status(), mb.Name).(*messages.Status))
		}
		c.Respond(list)
	case *inproc.CloseSupervisor:
		if a.closing {
			c.Respond(&inproc.SupervisorClosed{})
			return
		}
		a.closing = true
		sender, sys := c.Sender(), c.ActorSystem()
		go func() { // not one of ops: it waits for them
			defer a.survive(sys, sender, m, nil)
			a.waitOps()
			err := a.release(sys, int(a.hooks.Held.Swap(0)))
			a.closeOwned(sys)
			sys.Root.Send(sender, &inproc.SupervisorClosed{Err: err})
		}()
	}
}

// forward hands a request for one database to its actor. An owned
// database's actor answers the requester directly; a shared one's answer is
// relabelled with the name this registry gives it.
func (a *supervisorActor) forward(c actor.Context, t *messages.Target, ts *timestamppb.Timestamp) {
	name, req := t.GetDatabase(), c.Message()
	if a.closing {
		c.Respond(inproc.FailedReply(req, closedError()))
		return
	}
	for _, mb := range a.members {
		if mb.Name != name {
			continue
		}
		pid := mb.State.PID()
		switch {
		case pid == nil, mb.State.Closed():
			c.Respond(inproc.FailedReply(req, &messages.Error{Code: messages.Code_CODE_CLOSED, Database: name, Message: "database actor not running"}))
		case mb.Owned:
			c.Forward(pid)
		default:
			sender, sys := c.Sender(), c.ActorSystem()
			d := deadline.FromMessage(ts, time.Now(), a.opts.DefaultTimeout)
			a.ops.Go(func() {
				defer a.survive(sys, sender, req, nil)
				// One hop more than an owned database: keep a margin for it.
				inner := deadline.Inner(d, time.Now())
				ctx, cancel := context.WithDeadline(context.Background(), inner)
				defer cancel()
				reply, err := a.request(ctx, sys, pid, withDeadline(req, inner))
				if err != nil {
					reply = inproc.FailedReply(req, RequestError(name, err))
				}
				if sender != nil {
					sys.Root.Send(sender, messages.Relabel(reply, name))
				}
			})
		}
		return
	}
	c.Respond(inproc.FailedReply(req, &messages.Error{
		Code: messages.Code_CODE_UNKNOWN_DATABASE, Database: name,
		Message: fmt.Sprintf("unknown database %q: not the main database and not configured in extra", name),
	}))
}

// withDeadline returns a copy of a one-database request addressed to the
// database actor itself (no target) carrying deadline d.
func withDeadline(req any, d time.Time) any {
	switch m := req.(type) {
	case *messages.Connect:
		return &messages.Connect{Deadline: deadline.Proto(d)}
	case *messages.Disconnect:
		return &messages.Disconnect{Force: m.GetForce(), Deadline: deadline.Proto(d)}
	case *messages.GetStatus:
		return &messages.GetStatus{}
	case *messages.Query:
		return &messages.Query{Sql: m.GetSql(), Args: m.GetArgs(), MaxRows: m.GetMaxRows(), MaxBytes: m.GetMaxBytes(), Deadline: deadline.Proto(d)}
	case *messages.Exec:
		return &messages.Exec{Sql: m.GetSql(), Args: m.GetArgs(), Deadline: deadline.Proto(d)}
	case *inproc.PeerStatement:
		// The same grant around the re-addressed request: a constraint
		// dropped here would run a peer's statement unconstrained.
		if m == nil {
			return req
		}
		p := *m
		p.Request, _ = withDeadline(m.Request, d).(proto.Message)
		return &p
	}
	return req
}

// orMain is t, or the main database when the request names none.
func orMain(t *messages.Target) *messages.Target {
	if t == nil {
		return &messages.Target{}
	}
	return t
}

// unhold takes one registry-wide connect off Held, clamping at 0; it
// reports whether there was one to take.
func (a *supervisorActor) unhold() bool {
	for {
		n := a.hooks.Held.Load()
		if n == 0 {
			return false
		}
		if a.hooks.Held.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

func closedError() *messages.Error {
	return &messages.Error{Code: messages.Code_CODE_CLOSED, Message: "registry is closing"}
}

func (a *supervisorActor) spawn(c actor.Context, mb Member) {
	// The spawn records the actor's PID in mb.State (DatabaseProps); a
	// name that exists is this State's actor, recorded when it was spawned.
	_, err := c.SpawnNamed(actors.DatabaseProps(mb.State), ChildName(mb.Name))
	if err != nil && !errors.Is(err, actor.ErrNameExists) {
		a.opts.Logger.Error("dbactor: spawning database actor failed", "database", messages.DisplayName(mb.Name), "error", err)
	}
}

// fanOut runs op outside the mailbox, so the supervisor keeps serving while
// databases connect, and sends op's reply to the requester.
// If op crashes before it finishes, undo (when set) gives back what the
// request had claimed before it started.
func (a *supervisorActor) fanOut(c actor.Context, ts *timestamppb.Timestamp, op func(context.Context, *actor.ActorSystem, time.Time) any, undo func()) {
	sender, sys := c.Sender(), c.ActorSystem()
	d := deadline.FromMessage(ts, time.Now(), a.opts.DefaultTimeout)
	req := c.Message()
	a.ops.Go(func() {
		finished, told := false, false
		defer a.survive(sys, sender, req, func() {
			if !finished && undo != nil {
				undo()
			}
		})
		defer func() {
			if !told { // crashed: told before survive answers
				a.answered(req, nil)
			}
		}()
		a.faults.Hit(faults.SupervisorFanOut, nil, req)
		ctx, cancel := context.WithDeadline(context.Background(), d)
		defer cancel()
		reply := op(ctx, sys, d)
		finished, told = true, true
		a.answered(req, reply)
		if sender != nil {
			sys.Root.Send(sender, reply)
		}
	})
}

// answered tells the registry's Answered hook how a registry-wide request
// ended.
func (a *supervisorActor) answered(req, reply any) {
	if a.hooks.Answered != nil {
		a.hooks.Answered(req, reply)
	}
}

// survive keeps a panic in one of the supervisor's goroutines (a bug) from
// ending the process: the requester gets a CODE_INTERNAL reply, as from a
// crashed actor, and ActorCrashed is published.
func (a *supervisorActor) survive(sys *actor.ActorSystem, sender *actor.PID, req any, undo func()) {
	r := recover()
	if r == nil {
		return
	}
	if undo != nil {
		undo()
	}
	reason := crash.Wrap(r, a.opts.Scrub).Reason
	a.opts.Logger.Error("dbactor: supervisor operation crashed", "message", fmt.Sprintf("%T", req), "reason", reason)
	if sender != nil {
		if reply := inproc.FailedReply(req, &messages.Error{Code: messages.Code_CODE_INTERNAL,
			Message: fmt.Sprintf("supervisor crashed handling %T: %s", req, reason)}); reply != nil {
			sys.Root.Send(sender, reply)
		}
	}
	events.Publish(sys, a.opts.Events, a.opts.Logger, a.opts.Scrub, &messages.ActorCrashed{
		Actor: "supervisor operation", MessageType: fmt.Sprintf("%T", req), Reason: reason, Directive: "resume",
	})
}

func (a *supervisorActor) connectAll(_ context.Context, sys *actor.ActorSystem, d time.Time) any {
	// Databases answer by inner, leaving the time up to d for the rollback
	// and the reply: a slow database comes back as its own ConnectError.
	inner := d.Add(-deadline.Reserve(time.Until(d)))
	ctx, cancel := context.WithDeadline(context.Background(), inner)
	defer cancel()
	// Each database's connect_timeout counts from here: one whose actor
	// starts late (every core busy opening the others) is not given longer.
	dispatched := timestamppb.Now()
	outcomes := a.each(ctx, sys, a.members, func(Member) any {
		return &messages.Connect{Deadline: deadline.Proto(inner), Dispatched: dispatched}
	})
	rolledBack := false
	defer func() {
		if r := recover(); r != nil {
			if !rolledBack {
				// A bug after the connects: the caller gets an error, so
				// nothing it connected may stay counted.
				a.rollback(sys, outcomes, PlanRollback(outcomes, true))
			}
			panic(r)
		}
	}()
	a.faults.Hit(faults.SupervisorConnected, nil, outcomes)
	expired := time.Now().After(inner)
	stopped := false
	if !expired {
		// Counting the success and checking for a stop must be one step.
		a.mu.Lock()
		stopped = a.stopped
		a.mu.Unlock()
	}
	plan := PlanRollback(outcomes, expired || stopped)
	rolledBack = true
	rollback := a.rollback(sys, outcomes, plan)
	if stopped {
		return inproc.FailedReply(&messages.Connect{}, closedError())
	}
	reply := ConnectReply(outcomes, expired, rollback)
	if len(reply.GetErrors()) == 0 && !a.hold() {
		// Stopped between the check and now: give the connect back.
		rctx, cancel := context.WithTimeout(context.Background(), a.opts.RollbackTimeout)
		defer cancel()
		rd, _ := rctx.Deadline()
		a.disconnectAll(rctx, sys, a.members, false, rd, false)
		return inproc.FailedReply(&messages.Connect{}, closedError())
	}
	return reply
}

// rollback disconnects the members plan names (indexes into a.members).
func (a *supervisorActor) rollback(sys *actor.ActorSystem, outcomes []Outcome, plan []int) []Outcome {
	if len(plan) == 0 {
		return nil
	}
	undo := make([]Member, len(plan))
	for i, idx := range plan {
		undo[i] = a.members[idx]
	}
	names := make([]string, len(undo))
	for i, mb := range undo {
		names[i] = mb.Name
	}
	rctx, cancel := context.WithTimeout(context.Background(), a.opts.RollbackTimeout)
	defer cancel()
	rd, _ := rctx.Deadline()
	a.opts.Logger.Warn("dbactor: connect failed; rolling back", "rolled_back", len(plan), "databases", len(outcomes))
	events.Publish(sys, a.opts.Events, a.opts.Logger, a.opts.Scrub, &messages.RollingBack{Databases: names})
	out := a.disconnectAll(rctx, sys, undo, false, rd, true)
	done := &messages.RolledBack{Databases: names}
	for _, o := range out {
		if o.Err != nil {
			done.Errors = append(done.Errors, o.Err)
		}
	}
	events.Publish(sys, a.opts.Events, a.opts.Logger, a.opts.Scrub, done)
	return out
}

// disconnectAll disconnects members once each. A rollback's disconnects
// are answered as soon as each count is 0 and its pool handed to its close:
// the failed connect's error does not wait for pools to finish closing.
func (a *supervisorActor) disconnectAll(ctx context.Context, sys *actor.ActorSystem, members []Member, force bool, d time.Time, rollback bool) []Outcome {
	inner := deadline.Inner(d, time.Now())
	return a.each(ctx, sys, members, func(Member) any {
		return &messages.Disconnect{Force: force, Deadline: deadline.Proto(inner), Rollback: rollback}
	})
}

// release gives back n registry-wide connects on the shared databases, all
// at once under one timeout. A shared database whose owner has closed it
// holds nothing any more: that is not an error.
func (a *supervisorActor) release(sys *actor.ActorSystem, n int) error {
	var shared []Member
	for _, mb := range a.members {
		if !mb.Owned {
			for range n {
				shared = append(shared, mb)
			}
		}
	}
	if len(shared) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.RollbackTimeout)
	defer cancel()
	d, _ := ctx.Deadline()
	var errs []*messages.Error
	for _, o := range a.disconnectAll(ctx, sys, shared, false, d, false) {
		if o.Err != nil && o.Err.GetCode() != messages.Code_CODE_CLOSED {
			errs = append(errs, o.Err)
		}
	}
	return messages.Join(errs)
}

// waitOps waits for the operations in flight, at most RollbackTimeout: each
// is bounded by its own deadline, but a far-off one must not hold Close up
// (closing the databases cuts what they are doing short).
func (a *supervisorActor) waitOps() {
	done := make(chan struct{})
	go func() { a.ops.Wait(); close(done) }()
	t := time.NewTimer(a.opts.RollbackTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		a.opts.Logger.Warn("dbactor: closing with operations still in flight")
	}
}

// closeOwned closes every owned database for good and waits for each to
// answer: each first answers the requests already queued, and keeps
// answering later ones with CODE_CLOSED until the actor tree stops.
func (a *supervisorActor) closeOwned(sys *actor.ActorSystem) {
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.RollbackTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, mb := range a.members {
		if pid := mb.State.PID(); mb.Owned && pid != nil {
			wg.Go(func() {
				if _, err := request.Request(ctx, sys, pid, &inproc.CloseDatabase{}, 0); err != nil {
					a.opts.Logger.Error("dbactor: closing database", "database", messages.DisplayName(mb.Name), "error", err)
					mb.State.Shutdown()
				}
			})
		}
	}
	wg.Wait()
}

// each sends one request per member concurrently and collects the answers in
// member order.
func (a *supervisorActor) each(ctx context.Context, sys *actor.ActorSystem, members []Member, msg func(Member) any) []Outcome {
	out := make([]Outcome, len(members))
	one := func(i int, mb Member) {
		defer func() {
			if r := recover(); r != nil {
				out[i] = Outcome{Database: mb.Name, Err: &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: mb.Name,
					Message: "crashed: " + crash.Wrap(r, a.opts.Scrub).Reason}}
			}
		}()
		out[i] = a.ask(ctx, sys, mb, msg(mb))
	}
	if len(members) == 1 {
		one(0, members[0]) // nothing to wait for concurrently
		return out
	}
	var wg sync.WaitGroup
	for i, mb := range members {
		wg.Go(func() { one(i, mb) })
	}
	wg.Wait()
	return out
}

func (a *supervisorActor) ask(ctx context.Context, sys *actor.ActorSystem, mb Member, msg any) Outcome {
	o := Outcome{Database: mb.Name}
	pid := mb.State.PID()
	if pid == nil || mb.State.Closed() {
		// A closed database's actor is soon stopped, and a stopping actor
		// drops requests unanswered: do not send any.
		o.Err = &messages.Error{Code: messages.Code_CODE_CLOSED, Database: mb.Name, Message: "database closed"}
		return o
	}
	reply, err := a.request(ctx, sys, pid, msg)
	if err != nil {
		o.Err = RequestError(mb.Name, err)
		return o
	}
	return outcomeOf(mb, reply)
}

// outcomeOf reads a database actor's answer to a Connect or Disconnect.
func outcomeOf(mb Member, reply any) Outcome {
	o := Outcome{Database: mb.Name}
	switch r := messages.Relabel(reply, mb.Name).(type) {
	case *messages.ConnectResult:
		o.Changed = r.GetOpened()
		if len(r.GetErrors()) > 0 {
			o.Err = r.GetErrors()[0]
		}
	case *messages.DisconnectResult:
		o.Changed = r.GetClosed()
		if len(r.GetErrors()) > 0 {
			o.Err = r.GetErrors()[0]
		}
	default:
		o.Err = &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: mb.Name, Message: fmt.Sprintf("unexpected reply %T", reply)}
	}
	return o
}

// request asks a database actor and waits until ctx ends. A Connect whose
// reply comes too late was counted as failed by the caller, so it is not
// rolled back by it: the supervisor keeps listening and undoes it.
func (a *supervisorActor) request(ctx context.Context, sys *actor.ActorSystem, pid *actor.PID, msg any) (any, error) {
	var late func(any)
	var over func()
	if _, connect := msg.(*messages.Connect); connect {
		late = func(reply any) {
			if request.Connected(reply) {
				uctx, cancel := context.WithTimeout(context.Background(), a.opts.RollbackTimeout)
				defer cancel()
				_, _ = request.Request(uctx, sys, pid, &messages.Disconnect{}, 0)
			}
		}
		// A connect is sent only by an operation (one of ops): never from
		// zero. Its late undo is one of ops too.
		a.ops.Add(1)
		over = a.ops.Done
	}
	return request.Send(sys, pid, msg, late, over).Wait(ctx, nil)
}

// RequestError classifies an error of request.Request about database.
func RequestError(database string, err error) *messages.Error {
	code := messages.Code_CODE_INTERNAL
	switch {
	case errors.Is(err, request.ErrNoActor):
		code = messages.Code_CODE_CLOSED
	case errors.Is(err, request.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		code = messages.Code_CODE_TIMEOUT
	case errors.Is(err, context.Canceled):
		code = messages.Code_CODE_CANCELED
	}
	return &messages.Error{Code: code, Database: database, Message: err.Error()}
}
