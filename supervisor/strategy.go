package supervisor

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/events"
	"github.com/dbactor/dbactor/internal/inproc"
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
	// Logger, Events, Scrub and Database are optional: where the crash is
	// logged, the hook that gets ActorCrashed besides the EventStream, what
	// removes passwords from a panic in that hook, and the name of the
	// database whose actor child is ("" when none).
	Logger   *slog.Logger
	Events   func(messages.Event)
	Scrub    func(string) string
	Database func(child *actor.PID) string
}

// HandleFailure implements actor.SupervisorStrategy. The reason is shown as
// the crashed actor's guard left it (crash.Guard: passwords removed).
func (s *Strategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, message any) {
	_, msg, sender := actor.UnwrapEnvelope(message)
	text := crash.Reason(reason)
	var database string
	if s.Database != nil {
		database = s.Database(child)
	}
	if sender != nil {
		e := &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: database,
			Message: fmt.Sprintf("actor %s crashed handling %T: %s", child.GetId(), msg, text)}
		if reply := inproc.FailedReply(msg, e); reply != nil {
			sys.Root.Send(sender, reply)
		}
	}
	directive := "resume"
	if s.Directive == actor.RestartDirective {
		directive = "restart"
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger.Error("dbactor: actor crashed", "actor", child.GetId(), "message", fmt.Sprintf("%T", msg), "reason", text, "directive", directive)
	scrub := s.Scrub
	if scrub == nil {
		scrub = func(s string) string { return s }
	}
	events.Publish(sys, nil, logger, scrub, &actor.SupervisorEvent{Child: child, Reason: text, Directive: s.Directive})
	events.Publish(sys, s.Events, logger, s.Scrub, &messages.ActorCrashed{
		Actor: child.GetId(), Database: database, MessageType: fmt.Sprintf("%T", msg), Reason: text, Directive: directive,
	})
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
