package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/drain"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/messages"
)

// DatabaseProps returns the props of the database actor for s. Every
// instance the props produce — the first and any after a restart — works on
// the same State. Spawning them records the actor's PID in s (State.PID).
func DatabaseProps(s *State) *actor.Props {
	d := drain.New(func(req any) any {
		return failedReply(req, &messages.Error{Code: messages.Code_CODE_CLOSED, Database: s.name, Message: "database actor stopped"})
	})
	return actor.PropsFromProducerWithActorSystem(func(sys *actor.ActorSystem) actor.Actor {
		return &databaseActor{s: s, drain: d, faults: faults.For(sys)}
	},
		d.Props(), actor.WithReceiverMiddleware(crash.Guard(s.Scrub, s.lifecycleCrash)),
		actor.WithOnInit(func(c actor.Context) { s.pid.Store(c.Self()) })) // during the spawn, before it returns
}

// lifecycleCrash reports a panic on a lifecycle message, which Guard does
// not hand on (a restart would fail the same way, forever).
func (s *State) lifecycleCrash(c actor.ReceiverContext, msg any, cr *crash.Crash) {
	s.logger.Error("dbactor: database actor crashed handling a lifecycle message; carrying on", "message", fmt.Sprintf("%T", msg), "reason", cr.Reason)
	s.publish(c.ActorSystem(), &messages.ActorCrashed{
		Actor: c.Self().GetId(), Database: s.name, MessageType: fmt.Sprintf("%T", msg), Reason: cr.Reason, Directive: "ignored",
	})
}

// failedReply is inproc.FailedReply for what a database actor answers:
// never a lifecycle message, which it handles itself — a CloseDatabase it
// did not handle (it had stopped) stays unanswered, so that its sender
// shuts the State down.
func failedReply(req any, e *messages.Error) any {
	switch req.(type) {
	case *inproc.CloseDatabase, *inproc.CloseSupervisor:
		return nil
	}
	return inproc.FailedReply(req, e)
}

type databaseActor struct {
	s     *State
	drain *drain.Drain
	// faults is the system's test fault injector: nil in production.
	faults *faults.Injector
}

// Receive implements actor.Actor.
func (a *databaseActor) Receive(c actor.Context) {
	if a.s.closed.Load() {
		if reply := failedReply(c.Message(), &messages.Error{
			Code: messages.Code_CODE_CLOSED, Database: a.s.name, Message: "database closed: its registry is closed",
		}); reply != nil {
			if c.Sender() != nil {
				c.Respond(reply)
			}
			return
		}
	}
	a.faults.Hit(faults.DatabaseReceive, c.Self(), c.Message())
	if deadline.Invalid(c.Message()) {
		if c.Sender() != nil {
			c.Respond(failedReply(c.Message(), &messages.Error{
				Code: messages.Code_CODE_INVALID_ARGUMENT, Database: a.s.name, Message: "invalid deadline timestamp"}))
		}
		return
	}
	switch m := c.Message().(type) {
	case *inproc.CloseDatabase:
		if n := a.s.refCount.Load(); n > 0 {
			a.s.logger.Warn("dbactor: closing a database that is still connected", "ref_count", n)
		}
		open := a.s.Connected()
		a.s.Shutdown()
		if open {
			a.s.publish(c.ActorSystem(), &messages.DatabaseDisconnected{Database: a.s.name, Forced: true})
		}
		c.Respond(&inproc.DatabaseClosed{})
	case *messages.Connect:
		defer a.keepConsistent()()
		res := a.connect(c.ActorSystem(), m)
		if res.GetOpened() {
			a.s.startHealth(c.ActorSystem(), a.faults)
		}
		c.Respond(res)
	case *messages.Disconnect:
		defer a.keepConsistent()()
		res := a.disconnect(m)
		if res.GetClosed() {
			a.s.publish(c.ActorSystem(), &messages.DatabaseDisconnected{Database: a.s.name, Forced: m.GetForce()})
		}
		c.Respond(res)
	case *messages.GetStatus:
		c.Respond(a.s.Status())
	case *messages.Query, *messages.Exec, *inproc.PeerStatement:
		a.statement(c) // on a query worker: the mailbox never waits for SQL
	case *actor.Stopped:
		a.drain.Stopped(c.ActorSystem(), nil)
	case *actor.Started, *actor.Stopping, *actor.Restarting:
		// The State outlives the instance: nothing to open or close here.
	default:
		if c.Sender() != nil {
			e := &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Database: a.s.name,
				Message: fmt.Sprintf("database actor does not handle %T: send it to the registry", m)}
			reply := failedReply(m, e) // the reply type the sender waits for
			if reply == nil {
				reply = &messages.Status{Database: a.s.name, Error: e}
			}
			c.Respond(reply)
		}
	}
}

// keepConsistent guards a request against a panic (a bug, or one inside the
// driver): the count goes back to what it was, or to 0 with the handles
// closed if the pool was being opened, so the count never claims a pool
// that is not there. The panic then goes on to the supervisor.
func (a *databaseActor) keepConsistent() func() {
	before := a.s.refCount.Load()
	return func() {
		r := recover()
		if r == nil {
			return
		}
		if before == 0 || !a.s.Connected() {
			a.s.refCount.Store(0)
			a.s.startClose()
		} else {
			a.s.refCount.Store(before)
		}
		panic(r)
	}
}

// opContext bounds one request: it ends a margin before the caller's deadline
// so the reply reaches the caller in time. ok is false when that moment has
// already passed — the caller has given up and the request must not act.
func (a *databaseActor) opContext(ts *timestamppb.Timestamp) (context.Context, context.CancelFunc, bool) {
	now := time.Now()
	d := deadline.Inner(deadline.FromMessage(ts, now, a.s.defaultTimeout), now)
	if !d.After(now) {
		return nil, nil, false
	}
	ctx, cancel := context.WithDeadline(a.s.life, d)
	return ctx, cancel, true
}

func (a *databaseActor) connect(sys *actor.ActorSystem, m *messages.Connect) (res *messages.ConnectResult) {
	s := a.s
	ctx, cancel, ok := a.opContext(m.GetDeadline())
	if !ok {
		return &messages.ConnectResult{Errors: []*messages.Error{a.expired("connect")}}
	}
	defer cancel()
	if n := s.refCount.Load(); n > 0 {
		s.refCount.Store(n + 1)
		return &messages.ConnectResult{}
	}
	// 0 → 1: count first (databasez D1), undone on any failure below.
	s.refCount.Store(1)
	start := time.Now()
	s.publish(sys, &messages.DatabaseConnecting{Database: s.name})
	defer func() {
		switch {
		case res == nil: // crashed: keepConsistent undoes it, the caller gets an internal error
			s.publish(sys, &messages.DatabaseConnectFailed{Database: s.name,
				Error: &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: s.name, Message: "connect crashed"}})
		case len(res.GetErrors()) > 0:
			s.publish(sys, &messages.DatabaseConnectFailed{Database: s.name, Error: res.GetErrors()[0]})
		default:
			s.publish(sys, &messages.DatabaseConnected{Database: s.name, DurationMs: time.Since(start).Milliseconds()})
		}
	}()
	if err := runHook(ctx, s.hooks.OnConnect); err != nil {
		s.refCount.Store(0)
		return &messages.ConnectResult{Errors: []*messages.Error{a.failure(messages.Code_CODE_HOOK_FAILED, "on-connect hook", ctx, err)}}
	}
	err := s.open(ctx, dispatched(m.GetDispatched(), s.cfg.ConnectTimeout))
	if s.closed.Load() {
		// Closed for good while the pool opened (from outside the actor):
		// the pool must not outlive the Close.
		s.refCount.Store(0)
		s.startClose()
		return &messages.ConnectResult{Errors: []*messages.Error{{Code: messages.Code_CODE_CLOSED, Database: s.name, Message: "database closed while connecting"}}}
	}
	if err != nil {
		s.refCount.Store(0)
		e := a.failure(messages.Code_CODE_CONNECT_FAILED, "", ctx, err)
		e.Transient = e.GetCode() == messages.Code_CODE_TIMEOUT || transient(err)
		return &messages.ConnectResult{Errors: []*messages.Error{e}}
	}
	if ctx.Err() != nil {
		// Opened, but too late for the caller to learn it: undo, so no count
		// is held by a caller who saw a failure.
		s.refCount.Store(0)
		s.startClose()
		return &messages.ConnectResult{Errors: []*messages.Error{a.expired("connect")}}
	}
	a.faults.Hit(faults.DatabaseOpened, s.PID(), m)
	s.logger.Debug("dbactor: database connected", "dialect", s.cfg.Dialect, "duration", time.Since(start))
	return &messages.ConnectResult{Opened: true}
}

func (a *databaseActor) disconnect(m *messages.Disconnect) *messages.DisconnectResult {
	s := a.s
	ctx, cancel, ok := a.opContext(m.GetDeadline())
	if !ok {
		// Acting now could count down twice if the caller retries.
		return &messages.DisconnectResult{Errors: []*messages.Error{a.expired("disconnect")}}
	}
	defer cancel()
	n := s.refCount.Load()
	switch {
	case m.GetForce():
		if n > 0 {
			s.logger.Warn("dbactor: force disconnect despite ref count not 0", "ref_count", n)
		}
		s.refCount.Store(0)
		if !s.Connected() {
			return &messages.DisconnectResult{}
		}
	case n == 0:
		s.logger.Debug("dbactor: already disconnected")
		return &messages.DisconnectResult{}
	case n > 1:
		s.refCount.Store(n - 1)
		return &messages.DisconnectResult{}
	default:
		s.refCount.Store(0)
	}
	res := &messages.DisconnectResult{Closed: true}
	closed := s.startClose()
	if !m.GetRollback() { // undoing a failed connect: its caller waits for this answer, not the close
		select {
		case <-closed:
		case <-ctx.Done():
			res.Errors = append(res.Errors, a.failure(messages.Code_CODE_DISCONNECT_FAILED, "", ctx, errClosing))
		}
	}
	if err := runHook(ctx, s.hooks.OnDisconnect); err != nil {
		res.Errors = append(res.Errors, a.failure(messages.Code_CODE_HOOK_FAILED, "on-disconnect hook", ctx, err))
	}
	s.logger.Debug("dbactor: database disconnected", "forced", m.GetForce())
	return res
}

// dispatched is when a connect's connect_timeout t starts: when it was
// sent (Connect.dispatched), so that a connect whose actor got to run late
// on a busy machine is not given longer — but no earlier than a tenth of t
// ago, so that one queued behind other work of the actor (a disconnect
// waiting for its pool's close) still gets most of its time for the
// server. Unset, invalid or in the future: now.
func dispatched(ts *timestamppb.Timestamp, t time.Duration) time.Time {
	now := time.Now()
	if ts == nil || !ts.IsValid() || ts.AsTime().After(now) {
		return now
	}
	if floor := now.Add(-t / 10); ts.AsTime().Before(floor) {
		return floor
	}
	return ts.AsTime()
}

func (a *databaseActor) expired(op string) *messages.Error {
	return &messages.Error{
		Code: messages.Code_CODE_TIMEOUT, Database: a.s.name,
		Message: op + ": deadline passed before the database actor could finish",
	}
}

// failure turns err into a reply error: timeouts are classified as such, the
// SQLSTATE is kept, and every configured password is scrubbed from the text.
// what names the failing step when it is not the request itself (a hook).
func (a *databaseActor) failure(code messages.Code, what string, ctx context.Context, err error) *messages.Error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		// The deadline is the actionable cause, whichever step it cut short;
		// the message still names the step.
		code = messages.Code_CODE_TIMEOUT
	}
	e := a.s.errorOf(code, what, err)
	a.s.logger.Debug("dbactor: request failed", "code", code.String(), "error", e.Message)
	return e
}
