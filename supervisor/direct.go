package supervisor

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/events"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

// A registry with one database of its own has nothing to fan out, roll
// back or release: its registry-wide Connect and Disconnect go straight to
// the database actor, and a relay finishes them on the goroutine that
// answers. No goroutine is started and no one blocks; on a node serving
// remote callers that saves several hand-offs per request.

// single reports whether the registry has exactly one database, its own.
func (a *supervisorActor) single() bool {
	return len(a.members) == 1 && a.members[0].Owned
}

// direct sends the registry-wide Connect (or Disconnect) being handled to
// the one database's actor and answers it when the database does.
func (a *supervisorActor) direct(c actor.Context, ts *timestamppb.Timestamp, force bool) {
	req, sender, sys := c.Message(), c.Sender(), c.ActorSystem()
	mb := a.members[0]
	pid := mb.State.PID()
	if pid == nil || mb.State.Closed() {
		reply := inproc.FailedReply(req, &messages.Error{Code: messages.Code_CODE_CLOSED, Database: mb.Name, Message: "database closed"})
		a.answered(req, reply)
		c.Respond(reply)
		return
	}
	now := time.Now()
	d := deadline.FromMessage(ts, now, a.opts.DefaultTimeout)
	inner := deadline.Proto(deadline.Inner(d, now))
	_, connect := req.(*messages.Connect)
	var msg any = &messages.Connect{Deadline: inner}
	claimed := false
	if !connect {
		// Claimed before anything is sent, as in the fan-out.
		claimed = a.unhold()
		msg = &messages.Disconnect{Force: force, Deadline: inner}
	}
	a.ops.Add(1)
	finish := func(reply any, err error) {
		defer a.ops.Done()
		if errors.Is(err, request.ErrNoActor) {
			reply = &messages.DisconnectResult{Errors: []*messages.Error{{Code: messages.Code_CODE_CLOSED, Message: "database actor not running"}}}
		}
		var out any
		defer func() {
			if r := recover(); r != nil {
				reason := crash.Wrap(r, a.opts.Scrub).Reason
				a.opts.Logger.Error("dbactor: supervisor operation crashed", "message", fmt.Sprintf("%T", req), "reason", reason)
				events.Publish(sys, a.opts.Events, a.opts.Logger, a.opts.Scrub, &messages.ActorCrashed{
					Actor: "supervisor operation", MessageType: fmt.Sprintf("%T", req), Reason: reason, Directive: "resume",
				})
				out = inproc.FailedReply(req, &messages.Error{Code: messages.Code_CODE_INTERNAL,
					Message: fmt.Sprintf("supervisor crashed handling %T: %s", req, reason)})
				a.answered(req, out)
				if sender != nil {
					sys.Root.Send(sender, out)
				}
			}
		}()
		o := Outcome{Database: mb.Name, Err: &messages.Error{Code: messages.Code_CODE_TIMEOUT, Database: mb.Name,
			Message: "the database actor did not answer in time"}}
		if reply != nil {
			o = outcomeOf(mb, reply)
		}
		if connect {
			out = a.directConnected(sys, pid, o)
		} else {
			if claimed && !SharedReleased(a.members, []Outcome{o}) {
				a.hold() // nothing was given back: the hold is still ours
			}
			out = DisconnectReply([]Outcome{o})
		}
		a.answered(req, out)
		if sender != nil {
			sys.Root.Send(sender, out)
		}
	}
	late := func(reply any) {
		// A connect that succeeded after its caller was told it failed.
		if r, ok := reply.(*messages.ConnectResult); ok && len(r.GetErrors()) == 0 {
			sys.Root.Send(pid, &messages.Disconnect{})
		}
	}
	request.Relay(c, sys, pid, msg, time.Until(d)+a.opts.RollbackTimeout, finish, late)
}

// directConnected is the answer to a one-database registry-wide connect,
// counted in Held unless the registry stopped meanwhile (then the connect
// is given back).
func (a *supervisorActor) directConnected(sys *actor.ActorSystem, pid *actor.PID, o Outcome) any {
	reply := ConnectReply([]Outcome{o}, false, nil)
	if len(reply.GetErrors()) > 0 {
		return reply
	}
	if !a.hold() {
		sys.Root.Send(pid, &messages.Disconnect{})
		return inproc.FailedReply(&messages.Connect{}, closedError())
	}
	return reply
}

// expired answers at once a request whose deadline leaves no time for a
// database actor to act on it: nothing is sent on, and the caller hears
// that nothing was done rather than that a database did not answer.
func (a *supervisorActor) expired(c actor.Context) bool {
	req := c.Message()
	var ts *timestamppb.Timestamp
	var t *messages.Target
	wide := false // a registry-wide Connect or Disconnect
	switch m := req.(type) {
	case *messages.Connect:
		ts, t, wide = m.GetDeadline(), m.GetTarget(), m.GetTarget() == nil
	case *messages.Disconnect:
		ts, t, wide = m.GetDeadline(), m.GetTarget(), m.GetTarget() == nil
	case *messages.Query:
		ts, t = m.GetDeadline(), m.GetTarget()
	case *messages.Exec:
		ts, t = m.GetDeadline(), m.GetTarget()
	case *inproc.PeerStatement:
		ts = m.GetDeadline()
		if m != nil {
			if r, ok := m.Request.(interface{ GetTarget() *messages.Target }); ok {
				t = r.GetTarget()
			}
		}
	default:
		return false
	}
	if ts == nil {
		return false // the default timeout starts now
	}
	now := time.Now()
	if deadline.Inner(ts.AsTime(), now).After(now) {
		return false
	}
	reply := inproc.FailedReply(req, &messages.Error{Code: messages.Code_CODE_TIMEOUT, Database: t.GetDatabase(),
		Message: "deadline passed before the request reached the database actor: nothing was done"})
	if wide {
		a.answered(req, reply)
	}
	if reply != nil && c.Sender() != nil {
		c.Respond(reply)
	}
	return true
}
