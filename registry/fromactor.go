package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/ask"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/supervisor"
)

// ConnectFrom connects every database of the registry actor reg, all or
// nothing, like Registry.Connect — from inside the actor of c, without
// blocking it. It is the first of the …From calls, which all work alike:
//
//   - The facade blocks, and an actor must not block in Receive: it would
//     handle nothing else meanwhile, not even Stop. A …From call sends the
//     request and returns at once; the actor goes on with its mailbox.
//   - then runs later on the actor's own goroutine, between two of its
//     messages, never alongside Receive (a continuation: Proto.Actor's
//     ReenterAfter), so it may read and change the actor's state and use c.
//     Inside it, c.Message() and c.Sender() are again those of the message
//     that made the call: then may c.Respond to that sender. then may be
//     nil.
//   - then gets the errors the facade returns: errors.Is matches the same
//     sentinels and errors.As finds the same types.
//   - reg is any registry actor's PID: Registry.PID, or a registry spawned
//     with Props as a child of the calling actor.
//   - timeout bounds the call (zero or negative: DefaultTimeout). It travels
//     in the request as its deadline, so the registry stops work that would
//     end later; when no reply comes in time, then gets an error matching
//     ErrTimeout (and context.DeadlineExceeded).
//   - A connect whose success comes after then reported a timeout, or after
//     the calling actor stopped, is given back with a Disconnect: no count
//     is held by nobody. If the actor stops before then runs, then does not
//     run.
//   - then is a closure over the instance that made the call: if the actor
//     restarts meanwhile, then still runs, on the old instance's state.
//
// then gets nil, or what Registry.Connect would return: one *ConnectError
// per failed database (ErrConnectFailed, ErrHookFailed, ErrTimeout, …,
// joined), an error matching ErrTimeout, or ErrClosed once reg has stopped.
func ConnectFrom(c actor.Context, reg *actor.PID, timeout time.Duration, then func(error)) {
	askFrom(c, reg, timeout, nil, func(ts *timestamppb.Timestamp) any {
		return &messages.Connect{Deadline: ts}
	}, &messages.Disconnect{}, func(reply any, err error) {
		if then == nil {
			return
		}
		if err != nil {
			then(fmt.Errorf("dbactor: connect: %w", err))
			return
		}
		res, ok := reply.(*messages.ConnectResult)
		if !ok {
			then(unexpected(reply))
			return
		}
		then(replyErrors(res.GetErrors(), connectError))
	})
}

// DisconnectFrom disconnects every database of the registry reg once, like
// Registry.Disconnect, from inside the actor of c without blocking it (see
// ConnectFrom). then gets nil, the joined *DisconnectErrors, or an error
// matching ErrTimeout or ErrClosed. A disconnect is never undone: one that
// timed out may still have happened.
func DisconnectFrom(c actor.Context, reg *actor.PID, timeout time.Duration, then func(error)) {
	askFrom(c, reg, timeout, nil, func(ts *timestamppb.Timestamp) any {
		return &messages.Disconnect{Deadline: ts}
	}, nil, func(reply any, err error) {
		if then == nil {
			return
		}
		if err != nil {
			then(fmt.Errorf("dbactor: disconnect: %w", err))
			return
		}
		res, ok := reply.(*messages.DisconnectResult)
		if !ok {
			then(unexpected(reply))
			return
		}
		then(replyErrors(res.GetErrors(), disconnectError))
	})
}

// ConnectDatabaseFrom raises the ref count of one database of the registry
// reg ("" is the main database, else an extra's name), like
// Database.Connect, from inside the actor of c without blocking it (see
// ConnectFrom). then gets opened — true only when this connect opened the
// pool (0 → 1) — or a *ConnectError (ErrUnknownDatabase for a name the
// registry does not have).
func ConnectDatabaseFrom(c actor.Context, reg *actor.PID, database string, timeout time.Duration, then func(opened bool, err error)) {
	askFrom(c, reg, timeout, nil, func(ts *timestamppb.Timestamp) any {
		return &messages.Connect{Target: &messages.Target{Database: database}, Deadline: ts}
	}, &messages.Disconnect{Target: &messages.Target{Database: database}}, func(reply any, err error) {
		if then == nil {
			return
		}
		if err != nil {
			then(false, &ConnectError{Database: database, Err: err})
			return
		}
		res, ok := supervisor.Relabel(reply, database).(*messages.ConnectResult)
		if !ok {
			then(false, unexpected(reply))
			return
		}
		if err := replyErrors(res.GetErrors(), connectError); err != nil {
			then(false, err)
			return
		}
		then(res.GetOpened(), nil)
	})
}

// DisconnectDatabaseFrom lowers the ref count of one database of the
// registry reg, like Database.Disconnect, from inside the actor of c without
// blocking it (see ConnectFrom). then gets closed — true when this
// disconnect closed the pool (1 → 0) — and nil or a *DisconnectError.
func DisconnectDatabaseFrom(c actor.Context, reg *actor.PID, database string, timeout time.Duration, then func(closed bool, err error)) {
	askFrom(c, reg, timeout, nil, func(ts *timestamppb.Timestamp) any {
		return &messages.Disconnect{Target: &messages.Target{Database: database}, Deadline: ts}
	}, nil, func(reply any, err error) {
		if then == nil {
			return
		}
		if err != nil {
			then(false, &DisconnectError{Database: database, Err: err})
			return
		}
		res, ok := supervisor.Relabel(reply, database).(*messages.DisconnectResult)
		if !ok {
			then(false, unexpected(reply))
			return
		}
		then(res.GetClosed(), replyErrors(res.GetErrors(), disconnectError))
	})
}

// CreateSchemaFrom creates schema like Registry.CreateSchema (same options,
// same on-demand connect that leaves every count as it was), from inside
// the actor of c without blocking it (see ConnectFrom). then gets nil or a
// *SchemaError matching ErrSchema (ErrTimeout, ErrUnsupported, …), or
// ErrInvalidName for a name refused before anything was sent. Work still
// running at the deadline is cancelled by the registry.
func CreateSchemaFrom(c actor.Context, reg *actor.PID, schema string, timeout time.Duration, then func(error), opts ...SchemaOption) {
	var o schemaOptions
	for _, opt := range opts {
		opt(&o)
	}
	askFrom(c, reg, timeout, ident.Validate("schema", schema), func(ts *timestamppb.Timestamp) any {
		return &messages.CreateSchema{Schema: schema, IfNotExists: o.ifNotExists, WithModels: o.withModels, Databases: o.databases, Deadline: ts}
	}, nil, schemaDone("create schema", schema, then))
}

// DropSchemaFrom drops schema like Registry.DropSchema, from inside the
// actor of c without blocking it (see CreateSchemaFrom).
func DropSchemaFrom(c actor.Context, reg *actor.PID, schema string, timeout time.Duration, then func(error), opts ...SchemaOption) {
	var o schemaOptions
	for _, opt := range opts {
		opt(&o)
	}
	askFrom(c, reg, timeout, ident.Validate("schema", schema), func(ts *timestamppb.Timestamp) any {
		return &messages.DropSchema{Schema: schema, Cascade: o.cascade, IfExists: o.ifExists, Databases: o.databases, Deadline: ts}
	}, nil, schemaDone("drop schema", schema, then))
}

// schemaDone maps a schema reply as Registry.schemaCall does.
func schemaDone(op, schema string, then func(error)) func(any, error) {
	return func(reply any, err error) {
		if then == nil {
			return
		}
		if err != nil {
			if errors.Is(err, ErrInvalidName) {
				then(err) // refused before sending, as the facade does
				return
			}
			then(&SchemaError{Op: op, Schema: schema, Message: err.Error(), Err: err})
			return
		}
		res, ok := reply.(*messages.SchemaResult)
		if !ok {
			then(unexpected(reply))
			return
		}
		var errs []error
		for _, e := range res.GetErrors() {
			errs = append(errs, schemaError(op, schema, e))
		}
		then(errors.Join(errs...))
	}
}

// askFrom sends the request build makes (given its deadline) to reg on
// behalf of the actor of c, and runs done on that actor once the reply or
// the timeout comes, whichever is first. refused, when set, is the outcome
// at once: nothing is sent. undo, when set, is sent to reg to give back a
// connect whose success the actor will never see: it came after the
// timeout, or after the actor stopped.
//
// Not actor.Context.RequestFuture: its future unregisters itself when it
// times out, so a late reply would go to dead letters and a late connect
// could not be undone. The request gets a reply address of its own (an
// actor.Process, like internal/ask's), which settles a plain Future once;
// ReenterAfter on that Future brings done onto the actor's goroutine.
func askFrom(c actor.Context, reg *actor.PID, timeout time.Duration, refused error, build func(*timestamppb.Timestamp) any, undo *messages.Disconnect, done func(reply any, err error)) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	sys := c.ActorSystem()
	r := &fromCall{sys: sys, reg: reg, self: c.Self(), timeout: timeout, result: actor.NewFuture(sys, -1)}
	c.ReenterAfter(r.result, func(res any, err error) {
		o, ok := res.(outcome)
		if err != nil || !ok {
			o = outcome{err: fmt.Errorf("%w: reply future: %v", ErrInternal, err)}
		}
		if !r.deliver() {
			return // the actor stopped; the connect was given back
		}
		done(o.reply, o.err)
	})
	if refused == nil && reg == nil {
		refused = fmt.Errorf("%w: no registry PID", ErrInvalidArgument)
	}
	if refused != nil {
		r.settle(outcome{err: refused})
		return
	}
	watch := undo != nil
	r.undo, r.watching = undo, watch
	r.pid, _ = sys.ProcessRegistry.Add(r, "dbactor-from$"+sys.ProcessRegistry.NextId())
	r.mu.Lock()
	r.timer = time.AfterFunc(timeout, r.expire)
	r.mu.Unlock()
	if watch {
		// The reply address hears when the actor stops: a connect it can
		// no longer learn of is given back then.
		sendSystem(sys, r.self, &actor.Watch{Watcher: r.pid})
	}
	c.RequestWithCustomSender(reg, build(deadline.Proto(time.Now().Add(timeout))), r.pid)
}

// outcome is what a request from an actor settled with.
type outcome struct {
	reply any
	err   error
}

// fromCall is the reply address of one request from an actor.
type fromCall struct {
	sys     *actor.ActorSystem
	pid     *actor.PID // this process
	reg     *actor.PID
	self    *actor.PID // the requesting actor
	timeout time.Duration
	result  *actor.Future
	undo    *messages.Disconnect

	mu        sync.Mutex
	watching  bool // self is watched: its Terminated comes here
	settled   bool // result has its outcome
	byReply   bool // …and it is the reply (not the timeout)
	replied   bool // the reply came, in time or late
	owed      bool // the reply is a connect that succeeded
	expired   bool // the grace for a late reply is over
	delivered bool // the continuation ran on the actor
	gone      bool // the actor stopped before that
	undone    bool // the connect was given back
	timer     *time.Timer
	released  bool
}

// SendUserMessage implements actor.Process: the reply.
func (r *fromCall) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	r.mu.Lock()
	if r.replied {
		r.mu.Unlock()
		return
	}
	r.replied = true
	if r.timer != nil {
		r.timer.Stop()
	}
	o := outcome{reply: msg}
	if _, dead := msg.(*actor.DeadLetterResponse); dead {
		o = outcome{err: requestError(fmt.Errorf("%w: %s", ask.ErrNoActor, r.reg.GetId()))}
	} else if res, ok := msg.(*messages.ConnectResult); ok && len(res.GetErrors()) == 0 {
		r.owed = true
	}
	settle := !r.settled
	if settle {
		r.settled, r.byReply = true, true
	}
	// Given back when nobody will learn of it: too late, or the actor is
	// gone (then its continuation must not report it either).
	giveBack := r.owed && r.undo != nil && (!settle || r.gone)
	if giveBack && settle {
		r.undone = true
	}
	release := r.releasable()
	r.mu.Unlock()
	if settle {
		r.complete(o)
	}
	if giveBack {
		r.giveBack()
	}
	if release {
		r.release()
	}
}

// SendSystemMessage implements actor.Process: the requesting actor's
// Terminated.
func (r *fromCall) SendSystemMessage(_ *actor.PID, message any) {
	if _, ok := message.(*actor.Terminated); !ok {
		return
	}
	r.mu.Lock()
	if r.delivered || r.gone {
		r.mu.Unlock()
		return
	}
	r.gone = true
	giveBack := r.byReply && r.owed && !r.undone
	if giveBack {
		r.undone = true
	}
	release := r.releasable()
	r.mu.Unlock()
	if giveBack {
		r.giveBack()
	}
	if release {
		r.release()
	}
}

// Stop implements actor.Process.
func (r *fromCall) Stop(*actor.PID) {}

// expire settles the request with a timeout, then keeps listening for a
// late reply for a while, to give back a connect nobody will see.
func (r *fromCall) expire() {
	r.mu.Lock()
	if r.replied { // raced with the reply, which stopped this timer too late
		r.mu.Unlock()
		return
	}
	settle := !r.settled
	r.settled = true
	r.timer = time.AfterFunc(lateGrace, r.endGrace)
	r.mu.Unlock()
	if settle {
		err := fmt.Errorf("no reply from %s within %v: %w", r.reg.GetId(), r.timeout, context.DeadlineExceeded)
		r.complete(outcome{err: requestError(err)})
	}
}

func (r *fromCall) endGrace() {
	r.mu.Lock()
	r.expired = true
	release := r.releasable()
	r.mu.Unlock()
	if release {
		r.release()
	}
}

// deliver is called by the continuation, on the actor: false when the
// outcome must not be reported (the actor stopped, the connect was given
// back).
func (r *fromCall) deliver() bool {
	r.mu.Lock()
	if r.undone && r.byReply {
		r.mu.Unlock()
		return false
	}
	r.delivered = true
	unwatch := r.watching
	r.watching = false
	release := r.releasable()
	r.mu.Unlock()
	if unwatch {
		sendSystem(r.sys, r.self, &actor.Unwatch{Watcher: r.pid})
	}
	if release {
		r.release()
	}
	return true
}

// releasable reports, under mu, whether the reply address is no longer
// needed (and claims its release): the reply came or its grace is over,
// and the actor has its outcome or has stopped.
func (r *fromCall) releasable() bool {
	if r.released || r.pid == nil {
		return false
	}
	if !(r.replied || r.expired) || (r.watching && !r.delivered && !r.gone) {
		return false
	}
	r.released = true
	return true
}

func (r *fromCall) release() {
	r.mu.Lock()
	t := r.timer
	r.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	r.sys.ProcessRegistry.Remove(r.pid)
}

// settle completes the request at once (nothing was sent).
func (r *fromCall) settle(o outcome) {
	r.mu.Lock()
	r.settled = true
	r.mu.Unlock()
	r.complete(o)
}

// complete hands the outcome to the future the actor's continuation waits
// on. Never under mu: on a synchronous dispatcher the continuation could
// run right here.
func (r *fromCall) complete(o outcome) {
	pid := r.result.PID()
	if p, ok := r.sys.ProcessRegistry.Get(pid); ok {
		p.SendUserMessage(pid, o)
	}
}

// giveBack disconnects what a connect nobody will see took, past any
// deadline (as the facade's undo does); its reply is not awaited here.
func (r *fromCall) giveBack() {
	r.sys.Root.RequestFuture(r.reg, r.undo, DefaultTimeout)
}

// sendSystem sends a system message to pid (Watch, Unwatch): a stopped
// actor answers a Watch with Terminated.
func sendSystem(sys *actor.ActorSystem, pid *actor.PID, msg any) {
	p, _ := sys.ProcessRegistry.Get(pid) // dead letters when it is gone
	p.SendSystemMessage(pid, msg)
}
