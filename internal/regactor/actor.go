package regactor

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/drain"
	"github.com/dbactor/dbactor/internal/events"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/plumbing"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/supervisor"
)

// Props returns the props of the registry actor of p. Spawn them once: the
// databases they describe belong to that one actor.
func Props(p *Plan) *actor.Props {
	d := drain.New(func(req any) any {
		return failedReply(req, &messages.Error{Code: messages.Code_CODE_CLOSED, Message: "registry stopped"})
	})
	return actor.PropsFromProducerWithActorSystem(func(sys *actor.ActorSystem) actor.Actor {
		return &registryActor{p: p, drain: d, faults: faults.For(sys)}
	},
		actor.WithSupervisor(childStrategy{p: p}), d.Props())
}

// supervisorName is the supervisor's name under the registry actor.
const supervisorName = "supervisor"

// selfOf is the registry actor a strategy runs for: Proto.Actor runs a
// parent's strategy on the parent, with its context as sup.
func selfOf(sup actor.Supervisor) *actor.PID {
	if s, ok := sup.(interface{ Self() *actor.PID }); ok {
		return s.Self()
	}
	return nil
}

// childStrategy supervises the registry's children: the supervisor resumes,
// because restarting it would stop every database actor below it; every
// other child is a callback actor made from a Go func and restarts (a
// panicking callback loses its event, nothing else).
type childStrategy struct{ p *Plan }

// HandleFailure implements actor.SupervisorStrategy.
func (s childStrategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason any, message any) {
	st := &supervisor.Strategy{Directive: actor.RestartDirective, Logger: s.p.Logger, Events: s.p.Events, Scrub: s.p.Scrub}
	// By id alone: the registry's PID and its child's may carry different
	// addresses (remote started in between), and ids are unique in a
	// process.
	if self := selfOf(sup); self != nil && child.GetId() == self.GetId()+"/"+supervisorName {
		st.Directive = actor.ResumeDirective
		// A tracked request the crash ate: the registry settles it as
		// failed (its claim restored) before Strategy answers the caller
		// (its mailbox has this before the caller's next request).
		_, msg, _ := actor.UnwrapEnvelope(message)
		sys.Root.Send(self, &answered{req: msg})
	}
	st.HandleFailure(sys, sup, child, rs, reason, message)
}

// failedReply is the reply of the right type for any request the registry
// actor takes, local ones included; nil when req is no request.
func failedReply(req any, e *messages.Error) any {
	switch req.(type) {
	case *Close:
		return &inproc.SupervisorClosed{}
	case *SpawnCallback:
		return &SpawnedCallback{Result: &messages.CallbackResult{Error: e}}
	case *ServeMigrations:
		return &ServingMigrations{Err: e}
	case *RegisterHook:
		return &messages.CallbackResult{Error: e}
	}
	return inproc.FailedReply(req, e)
}

// Close starts the registry's Close. Local only: no other node may close a
// registry, so it is a Go type, not a protocol message. The answer is an
// inproc.SupervisorClosed.
type Close struct{}

// registryActor fronts the supervisor: it refuses requests once closed (or
// when misconfigured) and hands the rest on. It owns the databases' States:
// when it stops for good, it closes them.
type registryActor struct {
	p          *Plan
	supervisor *actor.PID
	refusal    *messages.Error
	drain      *drain.Drain
	callbacks  int // callback actors spawned, for their names
	stopping   bool
	// callers holds the counts of tracked callers (callers.go); forceAll
	// and forceDB count the forced disconnects seen.
	callers  map[string]*holder
	forceAll uint64
	forceDB  map[string]uint64
	// allConnects and allForces count the tracked registry-wide connects
	// and the registry-wide forces under way; waiting holds requests
	// until they no longer race them (see wait).
	allConnects, allForces int
	waiting                []waitingRequest
	// limits bound each peer's holders (byPeer: by identity).
	limits Limits
	byPeer map[string]map[*holder]bool
	// tracked holds the tracked registry-wide requests under way at the
	// supervisor (the registry's copy of the request → its op).
	tracked map[any]*pendingOp
	// jobs cancels each schema job under way, by its request.
	jobs map[any]context.CancelFunc
	// migrating counts the Migrate requests under way (MaxMigrations).
	migrating int
	// faults is the system's test fault injector: nil in production.
	faults *faults.Injector
	// fanout sends the events of registrations and subscriptions, and the
	// replies to model and callback requests; fanRef is its record.
	fanout *actor.PID
	fanRef *fanOutRef
}

// Receive implements actor.Actor.
func (a *registryActor) Receive(c actor.Context) {
	defer a.survive(c)
	a.faults.Hit(faults.RegistryReceive, c.Self(), c.Message())
	if deadline.Invalid(c.Message()) {
		a.reply(c, failedReply(c.Message(), &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "invalid deadline timestamp"}))
		return
	}
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Stopping:
		// Refuse from here on: a child spawned now would keep the registry
		// from ever finishing its stop.
		a.stopping = true
	case *actor.Restarting:
		a.handFanOutOver()
	case *actor.Stopped:
		a.stopFanOut(c)
		if a.refusal == nil {
			// Only the live registry: the drain belongs to the props, and a
			// refused second spawn stopping must not switch it on for it.
			// Its replies wait for the fan-out's: those are earlier.
			a.drain.Stopped(c.ActorSystem(), a.fanRef.stopped)
			a.p.release(c.ActorSystem())
			for _, s := range a.p.Owned() {
				s.Shutdown()
			}
		}
	case *answered:
		a.answer(c, m)
	case *CancelJob:
		if cancel, ok := a.jobs[m.Key]; ok {
			cancel()
		}
	case *jobDone:
		if _, ok := a.jobs[m.key]; ok {
			delete(a.jobs, m.key)
			if _, ok := m.key.(*migrateJob); ok {
				a.migrating--
			}
		}
	case *actor.Terminated:
		a.callerTerminated(c, m)
		if _, ok := c.ActorSystem().ProcessRegistry.GetLocal(m.GetWho().GetId()); ok && m.GetWho().GetAddress() == c.ActorSystem().Address() {
			// A new actor under the old name registered meanwhile: the old
			// one's Terminated must not drop its callbacks. Watch the new one.
			c.Watch(m.GetWho())
			return
		}
		if n := a.p.book.unsubscribe(m.GetWho()); n > 0 {
			a.p.Logger.Debug("dbactor: callback actor stopped; its callbacks are dropped", "actor", m.GetWho().String(), "callbacks", n)
		}
	case *Close:
		if a.p.closed || a.refusal != nil {
			c.Respond(&inproc.SupervisorClosed{})
			return
		}
		a.p.closed = true
		a.refuseWaiting(c)
		// Schema work under way holds counts: let it finish (bounded) first.
		sys, sup, sender, p := c.ActorSystem(), a.supervisor, c.Sender(), a.p
		go func() {
			defer func() {
				if r := recover(); r != nil && sender != nil {
					sys.Root.Send(sender, &inproc.SupervisorClosed{Err: &messages.Error{Code: messages.Code_CODE_INTERNAL,
						Message: "close crashed: " + crash.Wrap(r, p.Scrub).Reason}})
				}
			}()
			if !p.waitWork(p.Timeout) {
				p.endJobs() // cut short; each still gives its count back
				if !p.waitWork(p.Timeout) {
					p.Logger.Warn("dbactor: close: schema work still running")
				}
			}
			sys.Root.RequestWithCustomSender(sup, &inproc.CloseSupervisor{}, sender)
		}()
	case *messages.RegisterModel, *messages.DeleteModel, *messages.RegisterCallback, *SpawnCallback, *RegisterHook,
		*messages.CreateSchema, *messages.DropSchema, *messages.CreateAll, *messages.DropAll, *messages.GetSchemas:
		if e := a.refuse(); e != nil {
			a.reply(c, failedReply(m, e))
			return
		}
		a.handle(c, m)
	case *messages.Connect:
		if e := a.refuse(); e != nil {
			c.Respond(inproc.FailedReply(m, e))
			return
		}
		h, e := a.holderFor(c, m.GetOwner())
		switch {
		case e != nil:
			c.Respond(inproc.FailedReply(m, e))
		case h != nil:
			if !a.wait(c, a.allForces > 0) {
				a.trackedConnect(c, m, h)
			}
		default:
			c.Forward(a.supervisor)
		}
	case *messages.Disconnect:
		if e := a.refuse(); e != nil {
			c.Respond(inproc.FailedReply(m, e))
			return
		}
		if m.GetForce() {
			if !a.wait(c, a.allConnects > 0) {
				a.force(c, m)
			}
			return
		}
		h, e := a.holderFor(c, m.GetOwner())
		switch {
		case e != nil:
			c.Respond(inproc.FailedReply(m, e))
		case h != nil:
			a.trackedDisconnect(c, m, h)
		default:
			c.Forward(a.supervisor)
		}
	case *messages.GetStatus, *messages.ListDatabases:
		if e := a.refuse(); e != nil {
			c.Respond(inproc.FailedReply(m, e))
			return
		}
		c.Forward(a.supervisor)
	case *ServeMigrations:
		a.serveMigrations(c, m)
	case *messages.Migrate:
		if e := a.refuse(); e != nil {
			respond(c, failedReply(m, e))
			return
		}
		a.migrate(c, m)
	case *messages.Query, *messages.Exec:
		if e := a.refuse(); e != nil {
			c.Respond(inproc.FailedReply(m, e))
			return
		}
		to := a.statementActor(m.(interface{ GetTarget() *messages.Target }).GetTarget())
		if p, remote := peerOf(c); remote && !p.Trusted {
			// Constrained by the peer's grant all the way to the worker:
			// only the registry can make this wrapper, no peer can send one.
			c.RequestWithCustomSender(to, &inproc.PeerStatement{
				Request: m.(proto.Message), Peer: p.Identity, Write: p.Write, Role: p.Role}, c.Sender())
			return
		}
		c.Forward(to)
	default:
		if c.Sender() != nil {
			c.Respond(&messages.Status{Error: &messages.Error{
				Code: messages.Code_CODE_INVALID_ARGUMENT, Message: fmt.Sprintf("registry does not handle %T", m),
			}})
		}
	}
}

// survive keeps a crash inside the registry actor from reaching its parent:
// a parent's strategy (a Props-embedded registry has the user's) would
// restart it, which stops every actor below it mid-request. The request that
// crashed it gets an internal error, as Strategy would give it.
func (a *registryActor) survive(c actor.Context) {
	r := recover()
	if r == nil {
		return
	}
	reason := crash.Wrap(r, a.p.Scrub).Reason
	a.p.Logger.Error("dbactor: registry actor crashed handling a message; carrying on", "message", fmt.Sprintf("%T", c.Message()), "reason", reason)
	if sender := c.Sender(); sender != nil {
		e := &messages.Error{Code: messages.Code_CODE_INTERNAL, Message: fmt.Sprintf("registry crashed handling %T: %s", c.Message(), reason)}
		if reply := failedReply(c.Message(), e); reply != nil {
			a.reply(c, reply)
		}
	}
	sys := c.ActorSystem()
	events.Publish(sys, nil, a.p.Logger, a.p.Scrub, &actor.SupervisorEvent{Child: c.Self(), Reason: reason, Directive: actor.ResumeDirective})
	events.Publish(sys, a.p.Events, a.p.Logger, a.p.Scrub, &messages.ActorCrashed{
		Actor: c.Self().GetId(), MessageType: fmt.Sprintf("%T", c.Message()), Reason: reason, Directive: "resume",
	})
}

func (a *registryActor) handle(c actor.Context, msg any) {
	switch m := msg.(type) {
	case *messages.RegisterModel:
		a.registerModel(c, m)
	case *messages.DeleteModel:
		a.deleteModel(c, m)
	case *messages.RegisterCallback:
		res, out := a.registerCallback(c, m, nil, false)
		a.respondAfter(c, res, out)
	case *SpawnCallback:
		a.spawnCallback(c, m)
	case *RegisterHook:
		a.registerHook(c, m)
	default:
		a.schemaRequest(c, m)
	}
}

func (a *registryActor) start(c actor.Context) {
	if a.p.Err != nil {
		a.refusal = &messages.Error{Code: messages.Code_CODE_INVALID_CONFIG, Message: a.p.Err.Error()}
		return
	}
	// One set of States, one actor: a second spawn of the same props would
	// otherwise open the same pools twice.
	if owner := a.p.owner.Load(); owner != nil && !owner.Equal(c.Self()) {
		a.refusal = &messages.Error{Code: messages.Code_CODE_INVALID_CONFIG,
			Message: "these registry props are already spawned as " + owner.GetId()}
		return
	}
	// The props' drain answers for a registry that stopped: this one is
	// live (a stopped registry's props may be spawned again, by name).
	a.drain.Started()
	for _, name := range a.p.sharedNames() {
		if a.p.Systems[name] != c.ActorSystem() {
			a.refusal = &messages.Error{Code: messages.Code_CODE_INVALID_CONFIG, Database: name,
				Message: "WithExtraDatabase: the database belongs to another actor system"}
			return
		}
	}
	a.limits = a.p.Limits.withDefaults()
	a.p.owner.Store(c.Self())
	pid, err := c.SpawnNamed(plumbing.SupervisorProps(a.p.Members, supervisor.Options{
		Logger: a.p.Logger, DefaultTimeout: a.p.Timeout, RollbackTimeout: a.p.Timeout,
		Scrub: a.p.Scrub, Events: a.p.Events,
	}, plumbing.SupervisorHooks{Held: &a.p.held, Answered: answeredHook(c.ActorSystem(), c.Self())}), supervisorName)
	if err != nil {
		a.refusal = &messages.Error{Code: messages.Code_CODE_INTERNAL, Message: "spawning supervisor: " + err.Error()}
		return
	}
	a.supervisor = pid
	a.startFanOut(c)
}

func (a *registryActor) refuse() *messages.Error {
	if a.refusal != nil {
		return a.refusal
	}
	if a.p.closed || a.stopping {
		return &messages.Error{Code: messages.Code_CODE_CLOSED, Message: "registry is closed"}
	}
	return nil
}

// release gives back, without waiting, what the registry still holds on
// shared databases when it stops without Close (say, its parent stopped
// it): Close has released them already and left nothing held.
func (p *Plan) release(sys *actor.ActorSystem) {
	n := p.held.Swap(0)
	for _, m := range p.Members {
		if pid := m.State.PID(); !m.Owned && pid != nil {
			for range n {
				sys.Root.Send(pid, &messages.Disconnect{})
			}
		}
	}
}

// statementActor is where a statement for database t goes: straight to
// the database actor of a database this registry owns and runs, one hop
// fewer than through the supervisor (which would forward it unchanged);
// to the supervisor otherwise, which answers for a database that is
// unknown, not running or shared from another registry.
func (a *registryActor) statementActor(t *messages.Target) *actor.PID {
	name := t.GetDatabase()
	for _, mb := range a.p.Members {
		if mb.Name != name {
			continue
		}
		if pid := mb.State.PID(); mb.Owned && pid != nil && !mb.State.Closed() {
			return pid
		}
		break
	}
	return a.supervisor
}
