package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/ask"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/messages"
)

// schemaJob is a schema request being worked on outside the registry actor:
// connecting, running DDL and disconnecting are blocking work, and an actor
// must never block in Receive. One database after the other, as in Edgy.
type schemaJob struct {
	system   *actor.ActorSystem
	targets  []*actors.State
	deadline time.Time
	// run is the work on one connected database.
	run func(ctx context.Context, s *actors.State) error
	// disconnectTimeout bounds giving the count back, which happens even
	// when the request's deadline has passed.
	disconnectTimeout time.Duration
}

// do works through the databases in order and stops at the first failure.
func (j *schemaJob) do() []*messages.Error {
	ctx, cancel := context.WithDeadline(context.Background(), j.deadline)
	defer cancel()
	for _, s := range j.targets {
		if e := j.one(ctx, s); e != nil {
			return []*messages.Error{e}
		}
	}
	return nil
}

// one connects s on demand (its ref count, like Edgy's `async with db`),
// runs the work and disconnects again.
func (j *schemaJob) one(ctx context.Context, s *actors.State) *messages.Error {
	if e := j.request(ctx, s, &messages.Connect{Deadline: deadline.Proto(deadline.Inner(j.deadline, time.Now()))}); e != nil {
		return e
	}
	err := j.run(ctx, s)
	dctx, cancel := context.WithTimeout(context.Background(), j.disconnectTimeout)
	defer cancel()
	de := j.request(dctx, s, &messages.Disconnect{Deadline: deadline.Proto(deadline.Inner(time.Now().Add(j.disconnectTimeout), time.Now()))})
	if err != nil {
		return schemaFailure(s, err)
	}
	return de
}

func (j *schemaJob) request(ctx context.Context, s *actors.State, msg any) *messages.Error {
	reply, err := ask.Request(ctx, j.system, s.PID(), msg, 0)
	if err != nil {
		return &messages.Error{Code: messages.CodeOf(requestError(err), messages.Code_CODE_INTERNAL), Database: s.Name(), Message: requestError(err).Error()}
	}
	var errs []*messages.Error
	switch r := reply.(type) {
	case *messages.ConnectResult:
		errs = r.GetErrors()
	case *messages.DisconnectResult:
		errs = r.GetErrors()
	default:
		return &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: s.Name(), Message: fmt.Sprintf("unexpected reply %T", reply)}
	}
	if len(errs) > 0 {
		e := errs[0]
		e.Database = s.Name()
		return e
	}
	return nil
}

// schemaFailure classifies what the work returned: the server's message for
// SQL errors (CODE_SCHEMA with the SQLSTATE), our own typed errors by their
// code, deadlines as timeouts.
func schemaFailure(s *actors.State, err error) *messages.Error {
	e := &messages.Error{Database: s.Name(), Message: s.Scrub(err.Error())}
	var pg *pgconn.PgError
	var me *messages.Error
	switch {
	case errors.As(err, &pg):
		e.Code, e.Message, e.Sqlstate = messages.Code_CODE_SCHEMA, s.Scrub(pg.Message), pg.Code
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
