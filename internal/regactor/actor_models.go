package regactor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// The registry actor's model, callback and schema requests. Models and
// callbacks change only here, so the mailbox orders registrations and every
// callback actor sees its events in that order.

func (a *registryActor) registerModel(c actor.Context, m *messages.RegisterModel) {
	if m.GetModel() == nil {
		a.respondAfter(c, &messages.ModelResult{Error: &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "RegisterModel without a model"}}, nil)
		return
	}
	switch m.GetOnConflict() { // the policies catalog.Register knows
	case messages.OnConflict_ON_CONFLICT_ERROR, messages.OnConflict_ON_CONFLICT_KEEP, messages.OnConflict_ON_CONFLICT_REPLACE:
	default:
		a.respondAfter(c, &messages.ModelResult{Error: &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT,
			Message: fmt.Sprintf("RegisterModel: unknown on_conflict %d", int32(m.GetOnConflict()))}}, nil)
		return
	}
	reg, err := a.p.book.register(m.GetModel(), m.GetOnConflict())
	if err != nil {
		e := errorMessage(err)
		if errors.Is(err, messages.ErrInvalidModel) {
			// A bad name in a definition is a bad definition: the code
			// callers match is CODE_INVALID_MODEL (the facade's error
			// matches ErrInvalidName too).
			e.Code = messages.Code_CODE_INVALID_MODEL
		}
		a.respondAfter(c, &messages.ModelResult{Error: e}, nil)
		return
	}
	var res *messages.ModelResult
	if c.Sender() != nil { // the model's copy is work thrown away without one
		res = &messages.ModelResult{Model: reg.Entry.Model.Def(), Changed: reg.Changed, Sequence: reg.Entry.Sequence}
	}
	if !reg.Changed { // kept: nothing fired
		a.respondAfter(c, res, nil)
		return
	}
	// The events, and the reply after them, go from the fan-out actor.
	c.Send(a.fanout, &registered{entry: reg.Entry, fire: reg.Fire, replyTo: c.Sender(), reply: res})
}

// callbackRequestError checks a RegisterCallback before anything is
// spawned or stored: a named model must have a name a model can have (one
// that cannot would keep the callback waiting for ever), and the mode must
// be one this binary knows.
func callbackRequestError(m *messages.RegisterCallback) *messages.Error {
	if model := m.GetModel(); model != "" {
		if err := ident.Validate("model", model); err != nil {
			return &messages.Error{Code: messages.Code_CODE_INVALID_NAME, Message: "RegisterCallback: " + err.Error()}
		}
	}
	if _, known := messages.CallbackMode_name[int32(m.GetMode())]; !known {
		return &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT,
			Message: fmt.Sprintf("RegisterCallback: unknown mode %d", int32(m.GetMode()))}
	}
	return nil
}

// registerCallback stores a callback and returns its result and the events
// it fires at once, for respondAfter.
func (a *registryActor) registerCallback(c actor.Context, m *messages.RegisterCallback, pid *actor.PID, owned bool) (*messages.CallbackResult, []delivery) {
	if e := callbackRequestError(m); e != nil {
		return &messages.CallbackResult{Error: e}, nil
	}
	from := ""
	if pid == nil {
		p := m.GetCallback()
		if p.GetId() == "" {
			return &messages.CallbackResult{Error: &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "RegisterCallback without a callback PID"}}, nil
		}
		if peer, remote := peerOf(c); remote {
			if e := foreign(peer, "callback", p); e != nil {
				return &messages.CallbackResult{Error: e}, nil
			}
			if from = limited(peer); from != "" && a.p.book.callbacksOf(from) >= a.limits.Callbacks {
				return &messages.CallbackResult{Error: quotaError(from, "callbacks stored", a.limits.Callbacks)}, nil
			}
		}
		sys := c.ActorSystem()
		addr := p.GetAddress()
		if addr == "" {
			addr = sys.Address()
		}
		pid = actor.NewPID(addr, p.GetId())
		if addr == sys.Address() {
			// A local actor that does not exist would only collect dead
			// letters (and be dropped again when the watch reports it).
			if _, ok := sys.ProcessRegistry.GetLocal(p.GetId()); !ok {
				return &messages.CallbackResult{Error: &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT,
					Message: fmt.Sprintf("RegisterCallback: no actor %q in this actor system", p.GetId())}}, nil
			}
		}
	}
	var oneTime *bool
	switch m.GetMode() {
	case messages.CallbackMode_CALLBACK_MODE_ONE_TIME:
		oneTime = new(true)
	case messages.CallbackMode_CALLBACK_MODE_PERSISTENT:
		oneTime = new(false)
	}
	sub, out := a.p.book.subscribe(m.GetModel(), oneTime, callbackTarget{pid: pid, owned: owned, peer: from})
	if sub.Stored && !owned && a.p.book.watch(pid) {
		// A stopped callback actor is dropped, not sent to for ever.
		c.Watch(pid)
	}
	return &messages.CallbackResult{Fired: uint32(len(out)), Stored: sub.Stored}, out
}

func (a *registryActor) spawnCallback(c actor.Context, m *SpawnCallback) {
	if e := callbackRequestError(m.Msg); e != nil {
		// Refused before the actor exists: nothing to stop again.
		a.respondAfter(c, &SpawnedCallback{Result: &messages.CallbackResult{Error: e}}, nil)
		return
	}
	a.callbacks++
	pid, err := c.SpawnNamed(m.Props, "callbacks/"+strconv.Itoa(a.callbacks))
	if err != nil {
		a.respondAfter(c, &SpawnedCallback{Result: &messages.CallbackResult{Error: &messages.Error{Code: messages.Code_CODE_INTERNAL, Message: "spawning callback actor: " + err.Error()}}}, nil)
		return
	}
	res, out := a.registerCallback(c, m.Msg, pid, true)
	a.respondAfter(c, &SpawnedCallback{PID: pid, Result: res}, out)
}

func (a *registryActor) deleteModel(c actor.Context, m *messages.DeleteModel) {
	a.respondAfter(c, &messages.ModelResult{Changed: a.p.book.delete(m.GetName())}, nil)
}

// schemaRequest starts a schema request's work outside the actor and
// answers the sender when it is done.
func (a *registryActor) schemaRequest(c actor.Context, msg any) {
	sender, sys := c.Sender(), c.ActorSystem()
	fail := func(e *messages.Error) {
		if sender != nil {
			respond(c, messages.FailedReply(msg, e))
		}
	}
	var names []string
	var ts *timestamppb.Timestamp
	if d, ok := msg.(interface{ GetDeadline() *timestamppb.Timestamp }); ok {
		ts = d.GetDeadline()
	}
	if m, ok := msg.(*messages.CreateSchema); ok && m.GetSchema() == "" && !m.GetWithModels() {
		fail(&messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "CreateSchema without a schema or with_models has nothing to do"})
		return
	}
	if m, ok := msg.(*messages.DropSchema); ok && m.GetSchema() == "" {
		// The facade refuses it too: an empty DropSchema would drop every
		// registered model's table, which is DropAll's to do.
		fail(&messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "DropSchema without a schema: name the schema to drop (DropAll drops the registered models' tables)"})
		return
	}
	if m, ok := msg.(interface{ GetSchema() string }); ok { // CreateSchema, DropSchema
		if e := validSchema(m.GetSchema()); e != nil {
			fail(e)
			return
		}
	}
	// Config.Schema was validated by New (an invalid one refuses every
	// request): the registry schema needs no check here.
	if m, ok := msg.(interface{ GetDatabases() []string }); ok {
		names = m.GetDatabases()
	} else if m, ok := msg.(*messages.GetSchemas); ok {
		names = []string{m.GetTarget().GetDatabase()}
	}
	if len(names) == 0 {
		names = []string{""}
	}
	targets, e := a.p.resolve(names)
	if e != nil {
		fail(e)
		return
	}
	all := a.p.book.models()
	switch msg.(type) {
	case *messages.CreateSchema, *messages.CreateAll:
		if a.p.book.sharedCT {
			// Another registry's content types, in this database and
			// schema: their table is created too (IF NOT EXISTS), so that
			// this registry's references resolve. Never dropped here.
			all = append([]*models.Model{a.p.book.contentType}, all...)
		}
	}
	regSchema := a.p.Schema
	job := &schemaJob{
		system:            sys,
		targets:           targets,
		deadline:          deadline.Inner(deadline.FromMessage(ts, time.Now(), a.p.Timeout), time.Now()),
		disconnectTimeout: a.p.Timeout,
		scrub:             a.p.Scrub,
	}
	var list *messages.SchemaList
	switch m := msg.(type) {
	case *messages.CreateAll:
		job.memoryCreates = true
	case *messages.CreateSchema:
		job.memoryCreates = m.GetSchema() != "" || m.GetWithModels()
	}
	job.run = func(ctx context.Context, t target) error {
		s := t.state
		ms, err := modelsOf(all, t.name)
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *messages.CreateSchema:
			return createSchema(ctx, s, m.GetSchema(), m.GetIfNotExists(), m.GetWithModels(), ms, regSchema)
		case *messages.DropSchema:
			return dropSchema(ctx, s, m.GetSchema(), m.GetCascade(), m.GetIfExists(), ms, regSchema)
		case *messages.CreateAll:
			return createAll(ctx, s, ms, regSchema)
		case *messages.DropAll:
			return dropAll(ctx, s, ms, regSchema)
		case *messages.GetSchemas:
			def, names, err := schemasOf(ctx, s)
			list = &messages.SchemaList{Database: t.name, DefaultSchema: def, Schemas: names}
			return err
		}
		return nil
	}
	ctx, done := a.startJob(c, msg)
	a.p.work.Add(1)
	go func() {
		defer a.p.work.Done()
		defer done()
		defer func() {
			if r := recover(); r != nil && sender != nil { // a bug: answer, not a dead process
				sys.Root.Send(sender, failedReply(msg, &messages.Error{Code: messages.Code_CODE_INTERNAL,
					Message: "schema work crashed: " + crash.Wrap(r, a.p.Scrub).Reason}))
			}
		}()
		errs := job.do(ctx)
		var out any = &messages.SchemaResult{Errors: errs}
		if _, ok := msg.(*messages.GetSchemas); ok {
			if len(errs) > 0 || list == nil {
				out = messages.FailedReply(msg, first(errs))
			} else {
				out = list
			}
		}
		if sender != nil {
			sys.Root.Send(sender, out)
		}
	}()
}

func first(errs []*messages.Error) *messages.Error {
	if len(errs) == 0 {
		return &messages.Error{Code: messages.Code_CODE_INTERNAL, Message: "no result"}
	}
	return errs[0]
}

func validSchema(name string) *messages.Error {
	if name == "" {
		return nil
	}
	if err := ident.Validate("schema", name); err != nil {
		return &messages.Error{Code: messages.Code_CODE_INVALID_NAME, Message: err.Error()}
	}
	return nil
}

// resolve maps database names to their States, in the given order. A
// database named twice (or under two names, shared twice) is refused: the
// second pass would fail ("already exists") after the first had changed it.
func (p *Plan) resolve(names []string) ([]target, *messages.Error) {
	out := make([]target, 0, len(names))
	for _, n := range names {
		found := false
		for _, m := range p.Members {
			if m.Name == n {
				found = true
				// A name given twice counts once. Two names of one shared
				// database stay two, as in Edgy: each has its own models.
				if !slices.ContainsFunc(out, func(t target) bool { return t.name == n }) {
					out = append(out, target{name: n, state: m.State})
				}
				break
			}
		}
		if !found {
			return nil, &messages.Error{Code: messages.Code_CODE_UNKNOWN_DATABASE, Database: n, Message: messages.DisplayName(n) + " is not configured in extra"}
		}
	}
	return out, nil
}

// errorMessage turns a Go error into a protocol error by its sentinel.
func errorMessage(err error) *messages.Error {
	return &messages.Error{Code: messages.CodeOf(err, messages.Code_CODE_INTERNAL), Message: err.Error()}
}

// respond answers the sender, if the request had one (a raw Send has none).
func respond(c actor.Context, reply any) {
	if c.Sender() != nil {
		c.Respond(reply)
	}
}
