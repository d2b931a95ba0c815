package regactor

import (
	"context"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/events"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/supervisor"
)

// Edgy trusts every caller to disconnect what it connected. Across nodes a
// caller can die holding counts, so the registry actor keeps the counts of
// tracked callers — a Connect naming an owner, or one sent from another
// node — watches them, and gives back what a caller still holds when it
// stops or its node goes away. Local callers without an owner stay
// untracked, as in Edgy.

// holder is what one tracked caller holds. Only the registry actor
// touches it.
type holder struct {
	key     string
	watched *actor.PID // the owner, or the node's activator
	node    bool       // keyed by node: no owner was given
	peer    string     // the identity of the peer it came from ("" local)
	all     int64      // registry-wide connects
	dbs     map[string]int64
	pending int    // connects sent, not answered yet
	gone    string // why the watched actor terminated; "" while alive
}

func (h *holder) empty() bool {
	if h.all > 0 {
		return false
	}
	for _, n := range h.dbs {
		if n > 0 {
			return false
		}
	}
	return true
}

// activator is the actor every Proto.Actor remote node runs under this
// name (remote.ActivatorForAddress): watching it tells when the node goes
// away, without importing remote into the core.
const activator = "activator"

// holderFor is the holder of the request being handled, created and
// watched on first sight; nil when the request is untracked. A request
// from a peer (stamped by a node's trust boundary) is always tracked: to
// its owner, which must be on the peer's own node, else to the peer's
// node. A new owner past the peer's limit is refused.
func (a *registryActor) holderFor(c actor.Context, owner *messages.Pid) (*holder, *messages.Error) {
	var key, from string
	var watch *actor.PID
	node := false
	p, remote := peerOf(c)
	switch sender := c.Sender(); {
	case remote && owner.GetId() != "":
		if e := foreign(p, "owner", owner); e != nil {
			return nil, e
		}
		watch = actor.NewPID(owner.GetAddress(), owner.GetId())
		key, from = "pid "+watch.GetAddress()+"/"+watch.GetId(), limited(p)
	case remote:
		watch = actor.NewPID(p.Address, activator)
		key, from, node = "node "+p.Address, limited(p), true
	case owner.GetId() != "":
		addr := owner.GetAddress()
		if addr == "" {
			addr = c.ActorSystem().Address()
		}
		watch = actor.NewPID(addr, owner.GetId())
		key = "pid " + watch.GetAddress() + "/" + watch.GetId()
	case sender != nil && sender.GetAddress() != c.ActorSystem().Address():
		watch = actor.NewPID(sender.GetAddress(), activator)
		key = "node " + sender.GetAddress()
		node = true
	default:
		return nil, nil
	}
	if a.callers == nil {
		a.callers = map[string]*holder{}
	}
	if h := a.callers[key]; h != nil && h.gone == "" {
		return h, nil
	}
	if from != "" && !node {
		if _, owners := a.peerCounts(from); owners >= a.limits.Owners {
			return nil, quotaError(from, "owner actors tracked", a.limits.Owners)
		}
	}
	h := &holder{key: key, watched: watch, node: node, peer: from, dbs: map[string]int64{}}
	a.callers[key] = h
	a.remember(h)
	c.Watch(watch)
	return h, nil
}

// pendingOp is a tracked Connect or Disconnect under way: the registry
// settles the caller's counts once the answer shows what happened. req is
// the registry's own copy of the request, so each one is a key of its own
// (a caller may send one message object twice).
type pendingOp struct {
	h   *holder // nil for a force
	req any     // *messages.Connect or *messages.Disconnect
	// The forced disconnects seen when it was sent: a count taken before a
	// force of its database is gone with it.
	forceAll, forceDB uint64
}

// answered tells the registry actor how a registry-wide request it sent
// the supervisor ended (the supervisor's Answered hook, before the caller
// hears); reply nil: the supervisor crashed on it. The registry settles
// the ones it tracks.
type answered struct {
	req   any
	reply any
}

// answeredHook is the supervisor's Answered: it tells the registry at self.
func answeredHook(sys *actor.ActorSystem, self *actor.PID) func(req, reply any) {
	return func(req, reply any) { sys.Root.Send(self, &answered{req: req, reply: reply}) }
}

// answer settles a tracked registry-wide request the supervisor answered.
func (a *registryActor) answer(c actor.Context, m *answered) {
	if op, ok := a.tracked[m.req]; ok {
		delete(a.tracked, m.req)
		a.settle(c, op, m.reply)
	}
}

// trackOn records op as under way at the supervisor.
func (a *registryActor) trackOn(req any, op *pendingOp) {
	if a.tracked == nil {
		a.tracked = map[any]*pendingOp{}
	}
	a.tracked[req] = op
}

// track sends a tracked request on. A registry-wide one goes to the
// supervisor, which answers the caller itself and tells the registry first
// (Answered): no future, no extra hop for the answer. One for a single
// database is answered through the registry.
func (a *registryActor) track(c actor.Context, h *holder, req any, target *messages.Target) {
	h.pending++
	op := &pendingOp{h: h, req: req, forceAll: a.forceAll, forceDB: a.forceDB[target.GetDatabase()]}
	if target == nil {
		if _, connect := req.(*messages.Connect); connect {
			a.allConnects++
		}
		a.trackOn(req, op)
		c.RequestWithCustomSender(a.supervisor, req, c.Sender())
		return
	}
	var d *timestamppb.Timestamp
	switch m := req.(type) {
	case *messages.Connect:
		d = m.GetDeadline()
	case *messages.Disconnect:
		d = m.GetDeadline()
	}
	// A connect answered after the window was settled as failed: it is
	// given back, so no count is held by nobody — to the database's own
	// actor, which outlives this registry's supervisor (a shared one
	// outlives the registry).
	sys, timeout := c.ActorSystem(), a.p.Timeout
	var db *actor.PID
	if ts, e := a.p.resolve([]string{target.GetDatabase()}); e == nil {
		db = ts[0].state.PID()
	}
	undo := func(late any) {
		if request.Connected(late) && db != nil {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_, _ = request.Request(ctx, sys, db, &messages.Disconnect{}, 0)
		}
	}
	request.Async(c, a.supervisor, a.replyWindow(d.AsTime(), d != nil), nil, func(*timestamppb.Timestamp) any { return req }, undo, func(res any, err error) {
		if err != nil {
			res = inproc.FailedReply(req, supervisor.RequestError(target.GetDatabase(), err))
		}
		a.settle(c, op, res)
		c.Respond(res)
	})
}

// trackedConnect forwards a tracked Connect; its count is recorded once
// the answer says it was taken.
func (a *registryActor) trackedConnect(c actor.Context, m *messages.Connect, h *holder) {
	if h.peer != "" {
		if counts, _ := a.peerCounts(h.peer); counts >= a.limits.Counts {
			c.Respond(inproc.FailedReply(m, quotaError(h.peer, "counts", a.limits.Counts)))
			return
		}
	}
	a.track(c, h, &messages.Connect{Target: m.GetTarget(), Deadline: m.GetDeadline(), Owner: m.GetOwner()}, m.GetTarget())
}

// trackedDisconnect gives back one of the caller's counts. A caller gives
// back only what it holds: anything more would take another caller's
// count. The count is claimed before the request goes on (so two
// disconnects cannot give back one count twice) and restored if the
// answer shows nothing was done.
func (a *registryActor) trackedDisconnect(c actor.Context, m *messages.Disconnect, h *holder) {
	db := m.GetTarget().GetDatabase()
	switch {
	case m.GetTarget() == nil && h.all > 0:
		h.all--
	case m.GetTarget() != nil && h.dbs[db] > 0:
		h.dbs[db]--
	default:
		a.p.Logger.Debug("dbactor: disconnect from a caller that holds no count; nothing given back", "caller", h.key)
		c.Respond(&messages.DisconnectResult{})
		return
	}
	a.track(c, h, &messages.Disconnect{Target: m.GetTarget(), Deadline: m.GetDeadline(), Owner: m.GetOwner()}, m.GetTarget())
}

// settle records what a tracked request did to its caller's counts. A
// count the caller still has although it went away meanwhile is given
// back at once.
func (a *registryActor) settle(c actor.Context, op *pendingOp, reply any) {
	h := op.h
	if d, ok := op.req.(*messages.Disconnect); ok && d.GetForce() {
		a.allForces--
		a.resume(c)
		return
	}
	if m, ok := op.req.(*messages.Connect); ok && m.GetTarget() == nil {
		a.allConnects--
		defer a.resume(c)
	}
	h.pending--
	defer a.forget(h)
	var target *messages.Target
	switch req := op.req.(type) {
	case *messages.Connect:
		r, ok := reply.(*messages.ConnectResult)
		if !ok || len(r.GetErrors()) > 0 || a.forcedSince(op, req.GetTarget()) {
			return // no count taken, or a force took it since
		}
		target = req.GetTarget()
	case *messages.Disconnect:
		if !unchanged(reply) || a.forcedSince(op, req.GetTarget()) {
			return // given back, as claimed
		}
		target = req.GetTarget() // still held: the claim is undone
	default:
		return
	}
	switch {
	case h.gone != "":
		a.giveBack(c, h, &messages.Disconnect{Target: target})
	case target == nil:
		h.all++
	default:
		h.dbs[target.GetDatabase()]++
	}
}

// unchanged reports whether a Disconnect's answer means nothing was given
// back: it failed before acting (deadline, cancellation, crash, closing) —
// the rule supervisor.SharedReleased applies to shared databases.
func unchanged(reply any) bool {
	r, ok := reply.(*messages.DisconnectResult)
	if !ok {
		return true
	}
	if len(r.GetErrors()) == 0 {
		return false
	}
	for _, e := range r.GetErrors() {
		switch e.GetCode() {
		case messages.Code_CODE_TIMEOUT, messages.Code_CODE_CANCELED, messages.Code_CODE_INTERNAL, messages.Code_CODE_CLOSED:
		default:
			return false
		}
	}
	return true
}

// forcedSince reports whether a forced disconnect that covers target
// happened after op was sent. A force of one database does not cover a
// registry-wide request (see forced).
func (a *registryActor) forcedSince(op *pendingOp, target *messages.Target) bool {
	if a.forceAll != op.forceAll {
		return true
	}
	return target != nil && a.forceDB[target.GetDatabase()] != op.forceDB
}

// A registry-wide request reaches the database actors from the
// supervisor's fan-out goroutine, later than a request for one database,
// which goes straight there: a force and a tracked connect sent one after
// the other could land the other way round, and the force epochs would
// then credit or drop the wrong count. So while a tracked registry-wide
// connect is under way, forces wait; while a registry-wide force is, tracked
// connects wait — in order, and everything after a waiting request waits
// behind it.

// waitingRequest is a request held back, with its sender and header
// (the peer it came from must still be known when it goes on).
type waitingRequest struct {
	msg    any
	sender *actor.PID
	header actor.ReadonlyMessageHeader
}

// wait holds the request being handled back when busy (or when others
// wait already); it reports whether it did.
func (a *registryActor) wait(c actor.Context, busy bool) bool {
	if !busy && len(a.waiting) == 0 {
		return false
	}
	a.waiting = append(a.waiting, waitingRequest{msg: c.Message(), sender: c.Sender(), header: c.MessageHeader()})
	return true
}

// resume sends the waiting requests back through the mailbox, in order,
// once nothing they wait for is under way; any that must still wait waits
// again.
func (a *registryActor) resume(c actor.Context) {
	if a.allConnects > 0 && a.allForces > 0 || len(a.waiting) == 0 {
		return
	}
	w := a.waiting
	a.waiting = nil
	for _, r := range w {
		var h map[string]string
		if r.header != nil && r.header.Length() > 0 {
			h = r.header.ToMap()
		}
		c.Send(c.Self(), &actor.MessageEnvelope{Header: h, Message: r.msg, Sender: r.sender})
	}
}

// refuseWaiting answers the waiting requests when the registry closes.
func (a *registryActor) refuseWaiting(c actor.Context) {
	for _, r := range a.waiting {
		if r.sender != nil {
			c.Send(r.sender, inproc.FailedReply(r.msg, &messages.Error{Code: messages.Code_CODE_CLOSED, Message: "registry is closed"}))
		}
	}
	a.waiting = nil
}

// force sends a forced disconnect on, clearing what it closes from the
// tracked callers. A registry-wide one is followed (Answered) so that
// tracked connects wait for it.
func (a *registryActor) force(c actor.Context, m *messages.Disconnect) {
	a.forced(m)
	if m.GetTarget() != nil {
		c.Forward(a.supervisor)
		return
	}
	req := &messages.Disconnect{Force: true, Deadline: m.GetDeadline(), Owner: m.GetOwner()}
	a.allForces++
	a.trackOn(req, &pendingOp{req: req})
	c.RequestWithCustomSender(a.supervisor, req, c.Sender())
}

// forced drops the counts every tracked caller held on what a forced
// disconnect closes: they are gone, and giving them back later would take
// counts other callers took since. A force of one database leaves the
// callers' registry-wide counts as they are (they span every database):
// giving one back later also lowers that database's count, so force one
// database of a registry with tracked callers only when you mean it.
func (a *registryActor) forced(m *messages.Disconnect) {
	if m.GetTarget() == nil {
		a.forceAll++
	} else {
		if a.forceDB == nil {
			a.forceDB = map[string]uint64{}
		}
		a.forceDB[m.GetTarget().GetDatabase()]++
	}
	for _, h := range a.callers {
		if m.GetTarget() == nil {
			h.all = 0
			clear(h.dbs)
		} else {
			delete(h.dbs, m.GetTarget().GetDatabase())
		}
	}
}

// callerTerminated gives back what a terminated caller held, if who was a
// tracked caller.
func (a *registryActor) callerTerminated(c actor.Context, t *actor.Terminated) {
	who := t.GetWho()
	keys := []string{"pid " + who.GetAddress() + "/" + who.GetId()}
	if who.GetId() == activator {
		// The node's end: its node-keyed holder (and a local caller's
		// that named the activator as owner) are done.
		keys = append(keys, "node "+who.GetAddress())
	}
	for _, key := range keys {
		if h := a.callers[key]; h != nil && h.gone == "" {
			a.release(c, h, who, t.GetWhy())
		}
	}
}

// release gives back what h held: its caller who went away.
func (a *registryActor) release(c actor.Context, h *holder, who *actor.PID, why actor.TerminatedReason) {
	h.gone = terminatedReason(why)
	if !h.node {
		// The owner watched the registry too: a Terminated owed to it on
		// the registry's stop would have remote retry its node, gone, for
		// seconds. Forget that watch — here, locally, also when the owner
		// merely stopped (its node may be gone by the registry's stop).
		if self, ok := c.ActorSystem().ProcessRegistry.GetLocal(c.Self().GetId()); ok {
			self.SendSystemMessage(c.Self(), &actor.Unwatch{Watcher: who})
		}
	}
	if !h.empty() {
		a.giveBack(c, h, nil)
	}
	a.forget(h)
}

func terminatedReason(why actor.TerminatedReason) string {
	switch why {
	case actor.TerminatedReason_AddressTerminated:
		return "address_terminated"
	case actor.TerminatedReason_NotFound:
		return "not_found"
	}
	return "stopped"
}

// forget drops a holder that can hold nothing more.
func (a *registryActor) forget(h *holder) {
	if h.gone == "" || h.pending > 0 {
		return
	}
	if a.callers[h.key] == h { // not replaced by a holder of a new caller
		delete(a.callers, h.key)
	}
	a.forgetPeer(h)
}

// giveBack disconnects, outside the mailbox, the counts a caller that
// went away held — everything it held, or, with one set, the one count a
// late connect took — then publishes CallerReleased. Close waits for it.
func (a *registryActor) giveBack(c actor.Context, h *holder, one *messages.Disconnect) {
	ev := &messages.CallerReleased{Address: h.watched.GetAddress(), Reason: h.gone}
	if !h.node {
		ev.Caller = &messages.Pid{Address: h.watched.GetAddress(), Id: h.watched.GetId()}
	}
	reqs := []*messages.Disconnect{one}
	if one == nil {
		reqs = nil
		for range h.all {
			reqs = append(reqs, &messages.Disconnect{})
		}
		ev.Connects = h.all
		names := make([]string, 0, len(h.dbs))
		for name, n := range h.dbs {
			if n > 0 {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			for range h.dbs[name] {
				reqs = append(reqs, &messages.Disconnect{Target: &messages.Target{Database: name}})
			}
			ev.Databases = append(ev.Databases, &messages.DatabaseCount{Database: name, Count: h.dbs[name]})
		}
		h.all = 0
		clear(h.dbs)
	} else if one.GetTarget() == nil {
		ev.Connects = 1
	} else {
		ev.Databases = []*messages.DatabaseCount{{Database: one.GetTarget().GetDatabase(), Count: 1}}
	}
	a.p.Logger.Info("dbactor: a caller went away holding counts; giving them back",
		"caller", h.key, "reason", h.gone, "connects", ev.Connects, "databases", len(ev.Databases))
	sys, sup, p := c.ActorSystem(), a.supervisor, a.p
	if p.closed {
		return // Close gives back everything, and waits for no more work
	}
	p.work.Add(1)
	go func() {
		defer p.work.Done()
		defer func() {
			if r := recover(); r != nil {
				p.Logger.Error("dbactor: giving back a caller's counts crashed", "caller", h.key)
			}
		}()
		for _, req := range reqs {
			ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
			reply, err := request.Request(ctx, sys, sup, req, 0)
			cancel()
			if err != nil {
				ev.Errors = append(ev.Errors, supervisor.RequestError(req.GetTarget().GetDatabase(), err))
				continue
			}
			if r, ok := reply.(*messages.DisconnectResult); ok {
				ev.Errors = append(ev.Errors, r.GetErrors()...)
			}
		}
		events.Publish(sys, p.Events, p.Logger, p.Scrub, ev)
	}()
}

// replyWindow is how long the registry waits for the supervisor's answer
// to a request with deadline d: the supervisor answers by then, or after
// its rollback (bounded by the timeout) at the latest.
func (a *registryActor) replyWindow(d time.Time, set bool) time.Duration {
	if !set {
		d = time.Now().Add(a.p.Timeout)
	}
	return max(time.Until(d), 0) + a.p.Timeout + time.Second
}
