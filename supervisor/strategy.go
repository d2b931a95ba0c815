package supervisor

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// Strategy supervises dbactor's actors. Unlike Proto.Actor's strategies it
// answers whoever sent the message that crashed the actor — with a
// CODE_INTERNAL error of the reply type they wait for — so a caller never
// waits for its timeout because of a bug. Then it applies Decide's
// directive; a restart beyond MaxRestarts within Window becomes a stop. A
// stop is a poison pill after a resume: the requests already queued are
// answered first, where Proto.Actor's stop would drop them unanswered.
type Strategy struct {
	Decide      func(reason any) actor.Directive
	MaxRestarts int
	Window      time.Duration
	// Stopped, when set, learns of every actor the strategy stops and why.
	Stopped func(child *actor.PID, reason any)
}

// NewStrategy returns a Strategy applying decide, with a restart budget of
// maxRestarts within window.
func NewStrategy(decide func(any) actor.Directive, maxRestarts int, window time.Duration) *Strategy {
	return &Strategy{Decide: decide, MaxRestarts: maxRestarts, Window: window}
}

// HandleFailure implements actor.SupervisorStrategy.
func (s *Strategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason any, message any) {
	if _, msg, sender := actor.UnwrapEnvelope(message); sender != nil {
		e := &messages.Error{Code: messages.Code_CODE_INTERNAL,
			Message: fmt.Sprintf("actor %s crashed handling %T: %v", child.GetId(), msg, reason)}
		if reply := FailedReply(msg, e); reply != nil {
			sys.Root.Send(sender, reply)
		}
	}
	directive := s.Decide(reason)
	if directive == actor.RestartDirective && s.exhausted(rs) {
		directive = actor.StopDirective
	}
	sys.EventStream.Publish(&actor.SupervisorEvent{Child: child, Reason: reason, Directive: directive})
	switch directive {
	case actor.ResumeDirective:
		sup.ResumeChildren(child)
	case actor.RestartDirective:
		sup.RestartChildren(child)
	case actor.StopDirective:
		if s.Stopped != nil {
			s.Stopped(child, reason)
		}
		sup.ResumeChildren(child)
		sys.Root.Poison(child)
	case actor.EscalateDirective:
		sup.EscalateFailure(reason, message)
	}
}

func (s *Strategy) exhausted(rs *actor.RestartStatistics) bool {
	if s.MaxRestarts <= 0 {
		return true
	}
	rs.Fail()
	if rs.NumberOfFailures(s.Window) > s.MaxRestarts {
		rs.Reset()
		return true
	}
	return false
}

// DecideResume keeps a crashed actor's instance and drops the message that
// crashed it: for the registry and supervisor actors, whose instances hold
// nothing a restart would repair, while a restart would stop (and drop the
// queued requests of) every actor below them.
func DecideResume(reason any) actor.Directive {
	if Decide(reason) == actor.StopDirective {
		return actor.StopDirective
	}
	return actor.ResumeDirective
}

// FailedReply is the reply of the right type for a request that failed
// before it was handled, or nil when req is not a request.
func FailedReply(req any, e *messages.Error) any {
	errs := []*messages.Error{e}
	switch req.(type) {
	case *messages.Connect:
		return &messages.ConnectResult{Errors: errs}
	case *messages.Disconnect:
		return &messages.DisconnectResult{Errors: errs}
	case *messages.GetStatus:
		return &messages.Status{Error: e}
	case *messages.ListDatabases:
		return &messages.DatabaseList{Error: e}
	case *Close:
		return &Closed{Err: e}
	}
	return nil
}
