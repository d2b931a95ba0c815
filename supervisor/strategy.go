package supervisor

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// Strategy supervises dbactor's actors. Unlike Proto.Actor's strategies it
// answers whoever sent the message that crashed the actor — with a
// CODE_INTERNAL error of the reply type they wait for — so a caller never
// waits for its timeout because of a bug. Then it applies Directive, which
// is Restart or Resume: never Stop, because a stopping actor silently drops
// every request queued in its mailbox, and its State outlives any instance
// anyway. A bug that fires on every message therefore costs one error reply
// per message, never a restart loop (restarts happen only on messages).
type Strategy struct {
	Directive actor.Directive
}

// HandleFailure implements actor.SupervisorStrategy.
func (s *Strategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, message any) {
	if _, msg, sender := actor.UnwrapEnvelope(message); sender != nil {
		e := &messages.Error{Code: messages.Code_CODE_INTERNAL,
			Message: fmt.Sprintf("actor %s crashed handling %T: %v", child.GetId(), msg, reason)}
		if reply := FailedReply(msg, e); reply != nil {
			sys.Root.Send(sender, reply)
		}
	}
	sys.EventStream.Publish(&actor.SupervisorEvent{Child: child, Reason: reason, Directive: s.Directive})
	if s.Directive == actor.RestartDirective {
		sup.RestartChildren(child)
		return
	}
	sup.ResumeChildren(child)
}

// Restart supervises database actors: a new instance on the same State,
// which keeps the pool and the count; the mailbox and its queue are kept.
var Restart = &Strategy{Directive: actor.RestartDirective}

// Resume supervises the registry actor and its supervisor: their instances
// hold nothing a restart would repair, while a restart would stop every
// actor below them. One value for all registries, because Proto.Actor keeps
// one guardian per strategy value for good.
var Resume = &Strategy{Directive: actor.ResumeDirective}

// FailedReply is the reply of the right type for a request that failed
// before it was handled, or nil when req is not a request.
func FailedReply(req any, e *messages.Error) any {
	if _, ok := req.(*Close); ok {
		return &Closed{Err: e}
	}
	return messages.FailedReply(req, e)
}
