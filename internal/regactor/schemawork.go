package regactor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

// schemaJob is a schema request being worked on outside the registry actor:
// connecting, running DDL and disconnecting are blocking work, and an actor
// must never block in Receive. One database after the other, as in Edgy.
type schemaJob struct {
	system   *actor.ActorSystem
	targets  []target
	deadline time.Time
	// memoryCreates: the work creates something, which a memory database
	// it had to open would lose again at once.
	memoryCreates bool
	// run is the work on one connected database.
	run func(ctx context.Context, t target) error
	// disconnectTimeout bounds giving the count back, which happens even
	// when the request's deadline has passed.
	disconnectTimeout time.Duration
	// scrub removes every password of the registry (a shared database's
	// State knows only its owner's).
	scrub func(string) string
}

// target is one database of a schema request: its name in this registry
// (a shared database has another in its owner's) and its State.
type target struct {
	name  string
	state *actors.State
}

// do works through the databases in order and stops at the first failure.
// ctx is cancelled when the caller gives up.
func (j *schemaJob) do(ctx context.Context) []*messages.Error {
	ctx, cancel := context.WithDeadline(ctx, j.deadline)
	defer cancel()
	for _, t := range j.targets {
		if e := j.one(ctx, t); e != nil {
			return []*messages.Error{e}
		}
	}
	return nil
}

// one connects the database on demand (its ref count, like Edgy's `async
// with db`), runs the work and disconnects again.
func (j *schemaJob) one(ctx context.Context, t target) *messages.Error {
	opened, e := j.request(ctx, t, &messages.Connect{Deadline: deadline.Proto(deadline.Inner(j.deadline, time.Now()))})
	if e != nil {
		return e
	}
	var err error
	if opened && j.memoryCreates && t.state.Memory() {
		err = &messages.Error{Code: messages.Code_CODE_UNSUPPORTED, Message: messages.DisplayName(t.name) +
			" is an in-memory SQLite database that is not connected: what this creates would vanish when it disconnects again; Connect first"}
	} else {
		err = j.safeRun(ctx, t)
	}
	// The count goes back even when ctx has ended.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.disconnectTimeout)
	defer cancel()
	_, de := j.request(dctx, t, &messages.Disconnect{Deadline: deadline.Proto(deadline.Inner(time.Now().Add(j.disconnectTimeout), time.Now()))})
	if err != nil {
		return schemaFailure(t, err, j.scrub)
	}
	return de
}

// safeRun runs the work; a panic in it (a bug) becomes a CODE_INTERNAL
// error, so the count taken for it is still given back.
func (j *schemaJob) safeRun(ctx context.Context, t target) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: t.name,
				Message: "schema work crashed: " + crash.Wrap(r, j.scrub).Reason}
		}
	}()
	faults.For(j.system).Hit(faults.SchemaJob, nil, t.name)
	return j.run(ctx, t)
}

// request asks the database actor; opened reports a connect that opened
// the pool.
func (j *schemaJob) request(ctx context.Context, t target, msg any) (opened bool, _ *messages.Error) {
	reply, err := request.Request(ctx, j.system, t.state.PID(), msg, 0)
	if err != nil {
		err = request.Err(err)
		return false, &messages.Error{Code: messages.CodeOf(err, messages.Code_CODE_INTERNAL), Database: t.name, Message: err.Error()}
	}
	var errs []*messages.Error
	switch r := reply.(type) {
	case *messages.ConnectResult:
		errs, opened = r.GetErrors(), r.GetOpened()
	case *messages.DisconnectResult:
		errs = r.GetErrors()
	default:
		return false, &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: t.name, Message: fmt.Sprintf("unexpected reply %T", reply)}
	}
	if len(errs) > 0 {
		e := errs[0]
		e.Database = t.name
		return false, e
	}
	return opened, nil
}

// schemaFailure classifies what the work returned: the server's message for
// SQL errors (CODE_SCHEMA with the SQLSTATE), our own typed errors by their
// code, deadlines as timeouts.
func schemaFailure(t target, err error, scrub func(string) string) *messages.Error {
	e := &messages.Error{Database: t.name, Message: scrub(err.Error())}
	var pg *pgconn.PgError
	var me *messages.Error
	switch {
	case errors.As(err, &pg):
		e.Code, e.Message, e.Sqlstate = messages.Code_CODE_SCHEMA, scrub(pg.Message), pg.Code
	case errors.As(err, &me):
		e.Code = me.GetCode()
	case errors.Is(err, context.DeadlineExceeded):
		e.Code = messages.Code_CODE_TIMEOUT
	case errors.Is(err, context.Canceled):
		e.Code = messages.Code_CODE_CANCELED
	default:
		e.Code = messages.CodeOf(err, messages.Code_CODE_SCHEMA)
	}
	return e
}

// CancelJob asks the registry actor to cancel the schema job of the
// request Key: its local caller gave up. Local only (a remote request is a
// different value, and runs to its deadline); a job that ended, or never
// started, is not there to cancel.
type CancelJob struct{ Key any }

// jobDone tells the registry actor that the job of key has ended.
type jobDone struct{ key any }

// startJob registers the job of key with the actor and returns its context
// and the func (safe from any goroutine) that ends it.
func (a *registryActor) startJob(c actor.Context, key any) (context.Context, func()) {
	ctx, cancel := context.WithCancel(a.p.jobsLife)
	if a.jobs == nil {
		a.jobs = map[any]context.CancelFunc{}
	}
	a.jobs[key] = cancel
	self, root := c.Self(), c.ActorSystem().Root
	return ctx, func() { cancel(); root.Send(self, &jobDone{key: key}) }
}
