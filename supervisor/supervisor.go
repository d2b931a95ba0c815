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
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/ask"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/faults"
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
	// the caller's deadline has passed.
	RollbackTimeout time.Duration
	// MaxRestarts within RestartWindow before a panicking database actor is
	// stopped (and spawned afresh on the same State).
	MaxRestarts   int
	RestartWindow time.Duration
}

// Close asks the supervisor to refuse further registry-wide requests, wait
// for those in flight, and release what its registry still holds on
// databases shared from other registries, before the registry stops. Local only: it never crosses nodes, so it is a Go type.
type Close struct{}

// Closed answers Close.
type Closed struct{ Err error }

// Respawned is published on the actor system's EventStream when a database
// actor that stopped after repeated panics is spawned again on its State.
type Respawned struct{ Database string }

// Props returns the supervisor's props. members lists the main database
// first, then the extras in registry order.
func Props(members []Member, opts Options) *actor.Props {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DefaultTimeout <= 0 {
		opts.DefaultTimeout = 30 * time.Second
	}
	if opts.RollbackTimeout <= 0 {
		opts.RollbackTimeout = 10 * time.Second
	}
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = 10
	}
	if opts.RestartWindow <= 0 {
		opts.RestartWindow = 10 * time.Second
	}
	core := &core{members: members, opts: opts}
	return actor.PropsFromProducer(
		func() actor.Actor { return &supervisorActor{core: core} },
		actor.WithSupervisor(NewStrategy(Decide, opts.MaxRestarts, opts.RestartWindow)),
	)
}

// core is shared by every instance of one supervisor, so that a restart
// keeps the members and the count of operations in flight.
type core struct {
	members []Member
	opts    Options
	ops     sync.WaitGroup
	// held counts registry-wide connects not yet matched by a disconnect;
	// Close releases that many on shared databases.
	held atomic.Int64
	// closing is set by Close; only Receive reads or writes it.
	closing bool
}

type supervisorActor struct {
	*core
	stopping bool
}

// Receive implements actor.Actor.
func (a *supervisorActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		for _, mb := range a.members {
			if mb.Owned {
				a.spawn(c, mb)
			}
		}
	case *actor.Stopping, *actor.Restarting:
		a.stopping = true
	case *actor.Terminated:
		for _, mb := range a.members {
			if mb.State.PID().Equal(m.GetWho()) && Respawn(mb.Owned, a.stopping) {
				a.opts.Logger.Error("dbactor: database actor stopped after repeated panics; spawning it again",
					"database", actors.DisplayName(mb.Name))
				a.spawn(c, mb)
				c.ActorSystem().EventStream.Publish(&Respawned{Database: mb.Name})
			}
		}
	case *messages.Connect:
		switch {
		case m.GetTarget() != nil:
			a.forward(c, m.GetTarget(), func(e *messages.Error) any { return &messages.ConnectResult{Errors: []*messages.Error{e}} })
		case a.closing:
			c.Respond(&messages.ConnectResult{Errors: []*messages.Error{closedError()}})
		default:
			a.fanOut(c, m.GetDeadline(), a.connectAll)
		}
	case *messages.Disconnect:
		switch {
		case m.GetTarget() != nil:
			a.forward(c, m.GetTarget(), func(e *messages.Error) any { return &messages.DisconnectResult{Errors: []*messages.Error{e}} })
		case a.closing:
			c.Respond(&messages.DisconnectResult{Errors: []*messages.Error{closedError()}})
		default:
			force := m.GetForce()
			a.fanOut(c, m.GetDeadline(), func(ctx context.Context, sys *actor.ActorSystem, d time.Time) any {
				reply := DisconnectReply(a.disconnectAll(ctx, sys, a.members, force, d))
				a.unhold()
				return reply
			})
		}
	case *messages.GetStatus:
		t := m.GetTarget()
		if t == nil {
			t = &messages.Target{} // the main database
		}
		a.forward(c, t, func(e *messages.Error) any { return &messages.Status{Database: t.GetDatabase(), Error: e} })
	case *messages.ListDatabases:
		list := &messages.DatabaseList{}
		for _, mb := range a.members {
			list.Databases = append(list.Databases, StatusOf(mb.State))
		}
		c.Respond(list)
	case *faults.Panic:
		panic(m.Value)
	case *Close:
		a.closing = true
		sender, sys := c.Sender(), c.ActorSystem()
		go func() { // not one of ops: it waits for them
			a.ops.Wait()
			err := a.release(sys, int(a.held.Swap(0)))
			sys.Root.Send(sender, &Closed{Err: err})
		}()
	}
}

// forward hands a request for one database to its actor. An owned
// database's actor answers the requester directly; a shared one's answer is
// relabelled with the name this registry gives it.
func (a *supervisorActor) forward(c actor.Context, t *messages.Target, fail func(*messages.Error) any) {
	name := t.GetDatabase()
	if a.closing {
		c.Respond(fail(closedError()))
		return
	}
	for _, mb := range a.members {
		if mb.Name != name {
			continue
		}
		pid := mb.State.PID()
		switch {
		case pid == nil:
			c.Respond(fail(&messages.Error{Code: messages.Code_CODE_CLOSED, Database: name, Message: "database actor not running"}))
		case mb.Owned:
			c.Forward(pid)
		default:
			msg, sender, sys := c.Message(), c.Sender(), c.ActorSystem()
			a.ops.Go(func() {
				ctx, cancel := context.WithDeadline(context.Background(), deadline.FromMessage(deadlineOf(msg), time.Now(), a.opts.DefaultTimeout))
				defer cancel()
				reply, err := ask.Request(ctx, sys, pid, msg, 0)
				if err != nil {
					reply = fail(RequestError(name, err))
				}
				if sender != nil {
					sys.Root.Send(sender, Relabel(reply, name))
				}
			})
		}
		return
	}
	c.Respond(fail(&messages.Error{
		Code: messages.Code_CODE_UNKNOWN_DATABASE, Database: name,
		Message: fmt.Sprintf("unknown database %q: not the main database and not configured in extra", name),
	}))
}

func deadlineOf(msg any) *timestamppb.Timestamp {
	if m, ok := msg.(interface {
		GetDeadline() *timestamppb.Timestamp
	}); ok {
		return m.GetDeadline()
	}
	return nil
}

// Relabel returns reply with every database name set to name: a shared
// database's actor knows only the name its owner gives it.
func Relabel(reply any, name string) any {
	relabel := func(errs []*messages.Error) []*messages.Error {
		out := make([]*messages.Error, len(errs))
		for i, e := range errs {
			out[i] = &messages.Error{Code: e.GetCode(), Message: e.GetMessage(), Database: name, Sqlstate: e.GetSqlstate()}
		}
		return out
	}
	switch r := reply.(type) {
	case *messages.ConnectResult:
		return &messages.ConnectResult{Opened: r.GetOpened(), Errors: relabel(r.GetErrors())}
	case *messages.DisconnectResult:
		return &messages.DisconnectResult{Closed: r.GetClosed(), Errors: relabel(r.GetErrors())}
	case *messages.Status:
		st := &messages.Status{
			Database: name, Connected: r.GetConnected(), RefCount: r.GetRefCount(),
			Dialect: r.GetDialect(), RedactedUrl: r.GetRedactedUrl(),
		}
		if r.GetError() != nil {
			st.Error = relabel([]*messages.Error{r.GetError()})[0]
		}
		return st
	}
	return reply
}

// unhold counts one registry-wide disconnect against held, clamping at 0.
func (a *supervisorActor) unhold() {
	for {
		n := a.held.Load()
		if n == 0 || a.held.CompareAndSwap(n, n-1) {
			return
		}
	}
}

func closedError() *messages.Error {
	return &messages.Error{Code: messages.Code_CODE_CLOSED, Message: "registry is closing"}
}

func (a *supervisorActor) spawn(c actor.Context, mb Member) {
	pid, err := c.SpawnNamed(actors.DatabaseProps(mb.State), ChildName(mb.Name))
	if err != nil && !errors.Is(err, actor.ErrNameExists) {
		a.opts.Logger.Error("dbactor: spawning database actor failed", "database", actors.DisplayName(mb.Name), "error", err)
		return
	}
	mb.State.SetPID(pid)
}

// fanOut runs op outside the mailbox, so the supervisor keeps serving while
// databases connect, and sends op's reply to the requester.
func (a *supervisorActor) fanOut(c actor.Context, ts *timestamppb.Timestamp, op func(context.Context, *actor.ActorSystem, time.Time) any) {
	sender, sys := c.Sender(), c.ActorSystem()
	d := deadline.FromMessage(ts, time.Now(), a.opts.DefaultTimeout)
	a.ops.Go(func() {
		ctx, cancel := context.WithDeadline(context.Background(), d)
		defer cancel()
		reply := op(ctx, sys, d)
		if sender != nil {
			sys.Root.Send(sender, reply)
		}
	})
}

func (a *supervisorActor) connectAll(ctx context.Context, sys *actor.ActorSystem, d time.Time) any {
	inner := deadline.Inner(d, time.Now())
	outcomes := a.each(ctx, sys, a.members, func(Member) any {
		return &messages.Connect{Deadline: deadline.Proto(inner)}
	})
	expired := time.Now().After(inner)
	plan := PlanRollback(outcomes, expired)
	var rollback []Outcome
	if len(plan) > 0 {
		undo := make([]Member, len(plan))
		for i, idx := range plan {
			undo[i] = a.members[idx]
		}
		rctx, cancel := context.WithTimeout(context.Background(), a.opts.RollbackTimeout)
		defer cancel()
		rd, _ := rctx.Deadline()
		rollback = a.disconnectAll(rctx, sys, undo, false, rd)
		a.opts.Logger.Warn("dbactor: connect failed; rolled back", "rolled_back", len(plan))
	}
	reply := ConnectReply(outcomes, expired, rollback)
	if len(reply.GetErrors()) == 0 {
		a.held.Add(1)
	}
	return reply
}

func (a *supervisorActor) disconnectAll(ctx context.Context, sys *actor.ActorSystem, members []Member, force bool, d time.Time) []Outcome {
	inner := deadline.Inner(d, time.Now())
	return a.each(ctx, sys, members, func(Member) any {
		return &messages.Disconnect{Force: force, Deadline: deadline.Proto(inner)}
	})
}

// release gives back what the registry holds on shared databases.
func (a *supervisorActor) release(sys *actor.ActorSystem, n int) error {
	var shared []Member
	for _, mb := range a.members {
		if !mb.Owned {
			shared = append(shared, mb)
		}
	}
	var errs []*messages.Error
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.RollbackTimeout)
		d, _ := ctx.Deadline()
		for _, o := range a.disconnectAll(ctx, sys, shared, false, d) {
			if o.Err != nil {
				errs = append(errs, o.Err)
			}
		}
		cancel()
	}
	return messages.Join(errs)
}

// each sends one request per member concurrently and collects the answers in
// member order.
func (a *supervisorActor) each(ctx context.Context, sys *actor.ActorSystem, members []Member, msg func(Member) any) []Outcome {
	out := make([]Outcome, len(members))
	var wg sync.WaitGroup
	for i, mb := range members {
		wg.Go(func() { out[i] = ask1(ctx, sys, mb, msg(mb)) })
	}
	wg.Wait()
	return out
}

func ask1(ctx context.Context, sys *actor.ActorSystem, mb Member, msg any) Outcome {
	o := Outcome{Database: mb.Name}
	pid := mb.State.PID()
	if pid == nil {
		o.Err = &messages.Error{Code: messages.Code_CODE_CLOSED, Database: mb.Name, Message: "database actor not running"}
		return o
	}
	reply, err := ask.Request(ctx, sys, pid, msg, 0)
	if err != nil {
		o.Err = RequestError(mb.Name, err)
		return o
	}
	switch r := Relabel(reply, mb.Name).(type) {
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
		o.Err = &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: mb.Name, Message: "unexpected reply"}
	}
	return o
}

// RequestError classifies an error of ask.Request about database.
func RequestError(database string, err error) *messages.Error {
	code := messages.Code_CODE_INTERNAL
	switch {
	case errors.Is(err, ask.ErrNoActor):
		code = messages.Code_CODE_CLOSED
	case errors.Is(err, ask.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		code = messages.Code_CODE_TIMEOUT
	case errors.Is(err, context.Canceled):
		code = messages.Code_CODE_CANCELED
	}
	return &messages.Error{Code: code, Database: database, Message: err.Error()}
}

// StatusOf reads a database's status without a round trip.
func StatusOf(s *actors.State) *messages.Status {
	return &messages.Status{
		Database:    s.Name(),
		Connected:   s.Connected(),
		RefCount:    s.RefCount(),
		Dialect:     string(s.Dialect()),
		RedactedUrl: s.RedactedURL(),
	}
}
