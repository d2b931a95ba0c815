// Package ops defines each operation of the registry protocol once: the
// request it sends, the message that gives back a success nobody saw, and
// how its reply (or the failure to get one) reads as a Go error. The local
// registry, the remote client and the in-actor API run the same Op, blocking
// (Do) or from inside an actor (Async); no reply kind is mapped to an error
// anywhere else.
package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

// DefaultTimeout bounds a call that names no deadline.
const DefaultTimeout = 30 * time.Second

// Op is one operation: T is what its caller gets.
type Op[T any] struct {
	// Build makes the request, given the deadline to put in it.
	Build func(*timestamppb.Timestamp) any
	// Undo, when set, makes the message that gives back a connect that
	// succeeded after its caller gave up; it is sent to UndoTo (nil: where
	// the request went). Made only when needed.
	Undo   func() any
	UndoTo *actor.PID
	// Refused, when set, is the outcome at once: nothing is sent.
	Refused error
	// Read reads the reply, or the failure to get one.
	Read func(reply any, err error) (T, error)
}

// Do runs op through c, blocking until the reply or ctx's end.
func Do[T any](ctx context.Context, c *request.Caller, pid *actor.PID, op Op[T]) (T, error) {
	if op.Refused != nil {
		var zero T
		return zero, op.Refused
	}
	var undo func(any)
	if op.Undo != nil {
		to := op.UndoTo
		if to == nil {
			to = pid
		}
		undo = func(late any) {
			if request.Connected(late) {
				c.GiveBack(to, op.Undo())
			}
		}
	}
	reply, err := c.Call(ctx, pid, op.Build, undo)
	return op.Read(reply, err)
}

// Async runs op from inside the actor of c without blocking it: then runs
// on the actor once the reply or the timeout comes (see request.Async).
func Async[T any](c actor.Context, pid *actor.PID, timeout time.Duration, op Op[T], then func(T, error)) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var undo func(any)
	if op.Undo != nil {
		sys := c.ActorSystem()
		undo = func(late any) {
			if request.Connected(late) {
				ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
				defer cancel()
				_, _ = request.Request(ctx, sys, pid, op.Undo(), 0)
			}
		}
	}
	refused := op.Refused
	request.Async(c, pid, timeout, refused, op.Build, undo, func(reply any, err error) {
		var v T
		if refused == nil { // refused before sending: the error as it is
			v, err = op.Read(reply, err)
		}
		if then != nil {
			then(v, err)
		}
	})
}

// Target names database in a request sent to a registry; nil when the
// request goes to the database's own actor.
func Target(database string) *messages.Target { return &messages.Target{Database: database} }

// ConnectAll connects every database of a registry (owner: whose counts).
func ConnectAll(owner *messages.Pid) Op[bool] {
	return Op[bool]{
		Build: func(ts *timestamppb.Timestamp) any { return &messages.Connect{Deadline: ts, Owner: owner} },
		Undo:  func() any { return &messages.Disconnect{Owner: owner} },
		Read: func(reply any, err error) (bool, error) {
			if err != nil {
				return false, fmt.Errorf("dbactor: connect: %w", err)
			}
			r, ok := reply.(*messages.ConnectResult)
			if !ok {
				return false, request.Unexpected(reply)
			}
			return r.GetOpened(), replyErrors(r.GetErrors(), connectError)
		},
	}
}

// DisconnectAll disconnects every database of a registry once.
func DisconnectAll(owner *messages.Pid) Op[bool] {
	return Op[bool]{
		Build: func(ts *timestamppb.Timestamp) any { return &messages.Disconnect{Deadline: ts, Owner: owner} },
		Read: func(reply any, err error) (bool, error) {
			if err != nil {
				return false, fmt.Errorf("dbactor: disconnect: %w", err)
			}
			r, ok := reply.(*messages.DisconnectResult)
			if !ok {
				return false, request.Unexpected(reply)
			}
			return r.GetClosed(), replyErrors(r.GetErrors(), disconnectError)
		},
	}
}

// Connect raises one database's count: name is its name to the caller,
// target addresses it in a request to a registry (nil: to its own actor).
// It reads as opened (0 → 1).
func Connect(name string, target *messages.Target, owner *messages.Pid) Op[bool] {
	return Op[bool]{
		Build: func(ts *timestamppb.Timestamp) any {
			return &messages.Connect{Target: target, Deadline: ts, Owner: owner}
		},
		Undo: func() any { return &messages.Disconnect{Target: target, Owner: owner} },
		Read: func(reply any, err error) (bool, error) {
			if err != nil {
				return false, &messages.ConnectError{Database: name, Err: err}
			}
			r, ok := messages.Relabel(reply, name).(*messages.ConnectResult)
			if !ok {
				return false, request.Unexpected(reply)
			}
			if err := replyErrors(r.GetErrors(), connectError); err != nil {
				return false, err
			}
			return r.GetOpened(), nil
		},
	}
}

// Disconnect lowers one database's count (force: to 0); it reads as closed
// (1 → 0).
func Disconnect(name string, target *messages.Target, force bool, owner *messages.Pid) Op[bool] {
	return Op[bool]{
		Build: func(ts *timestamppb.Timestamp) any {
			return &messages.Disconnect{Target: target, Force: force, Deadline: ts, Owner: owner}
		},
		Read: func(reply any, err error) (bool, error) {
			if err != nil {
				return false, &messages.DisconnectError{Database: name, Err: err}
			}
			r, ok := messages.Relabel(reply, name).(*messages.DisconnectResult)
			if !ok {
				return false, request.Unexpected(reply)
			}
			return r.GetClosed(), replyErrors(r.GetErrors(), disconnectError)
		},
	}
}

// Status asks for one database's state.
func Status(name string, target *messages.Target) Op[*messages.Status] {
	return Op[*messages.Status]{
		Build: func(*timestamppb.Timestamp) any { return &messages.GetStatus{Target: target} },
		Read: func(reply any, err error) (*messages.Status, error) {
			if err != nil {
				return nil, fmt.Errorf("dbactor: status of %s: %w", messages.DisplayName(name), err)
			}
			s, ok := messages.Relabel(reply, name).(*messages.Status)
			if !ok {
				return nil, request.Unexpected(reply)
			}
			if e := s.GetError(); e != nil {
				return nil, e
			}
			return s, nil
		},
	}
}

// List lists a registry's databases and their state.
func List() Op[[]*messages.Status] {
	return Op[[]*messages.Status]{
		Build: func(*timestamppb.Timestamp) any { return &messages.ListDatabases{} },
		Read: func(reply any, err error) ([]*messages.Status, error) {
			if err != nil {
				return nil, fmt.Errorf("dbactor: list databases: %w", err)
			}
			l, ok := reply.(*messages.DatabaseList)
			if !ok {
				return nil, request.Unexpected(reply)
			}
			if e := l.GetError(); e != nil {
				return nil, e
			}
			return l.GetDatabases(), nil
		},
	}
}

// RegisterCallback subscribes msg's callback actor.
func RegisterCallback(msg *messages.RegisterCallback) Op[struct{}] {
	return Op[struct{}]{
		Build: func(*timestamppb.Timestamp) any { return msg },
		Read: func(reply any, err error) (struct{}, error) {
			if err != nil {
				return struct{}{}, fmt.Errorf("dbactor: register callback: %w", err)
			}
			r, ok := reply.(*messages.CallbackResult)
			if !ok {
				return struct{}{}, request.Unexpected(reply)
			}
			if e := r.GetError(); e != nil {
				return struct{}{}, e
			}
			return struct{}{}, nil
		},
	}
}

// replyErrors turns the errors of a reply into Go errors: per-database
// failures wrapped in wrap (ConnectError or DisconnectError), rollback
// failures as DisconnectErrors.
func replyErrors(errs []*messages.Error, wrap func(database string, err error) error) error {
	if len(errs) == 0 {
		return nil
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		switch e.GetCode() {
		case messages.Code_CODE_ROLLBACK_FAILED:
			all[i] = &messages.DisconnectError{Database: e.GetDatabase(), Err: e}
		default:
			all[i] = wrap(e.GetDatabase(), e)
		}
	}
	if len(all) == 1 {
		return all[0]
	}
	return errors.Join(all...)
}

func connectError(database string, err error) error {
	return &messages.ConnectError{Database: database, Err: err}
}

func disconnectError(database string, err error) error {
	return &messages.DisconnectError{Database: database, Err: err}
}

// CreateSchema creates schema (see messages.SchemaOptions); an invalid name
// is refused before anything is sent.
func CreateSchema(schema string, o *messages.SchemaOptions) Op[struct{}] {
	return Schema("create schema", schema, ident.Validate("schema", schema), func(ts *timestamppb.Timestamp) any {
		m := o.Create(schema)
		m.Deadline = ts
		return m
	})
}

// DropSchema drops schema.
func DropSchema(schema string, o *messages.SchemaOptions) Op[struct{}] {
	return Schema("drop schema", schema, ident.Validate("schema", schema), func(ts *timestamppb.Timestamp) any {
		m := o.Drop(schema)
		m.Deadline = ts
		return m
	})
}

// Schema is a request answered with a SchemaResult (create or drop a
// schema, create or drop all tables): op names it in its errors.
func Schema(op, schema string, refused error, build func(*timestamppb.Timestamp) any) Op[struct{}] {
	return Op[struct{}]{
		Build:   build,
		Refused: refused,
		Read: func(reply any, err error) (struct{}, error) {
			if err != nil {
				return struct{}{}, &messages.SchemaError{Op: op, Schema: schema, Message: err.Error(), Err: err}
			}
			r, ok := reply.(*messages.SchemaResult)
			if !ok {
				return struct{}{}, request.Unexpected(reply)
			}
			var errs []error
			for _, e := range r.GetErrors() {
				errs = append(errs, SchemaErr(op, schema, e))
			}
			return struct{}{}, errors.Join(errs...)
		},
	}
}

// SchemaErr wraps a schema reply's error; the name problems and unknown
// databases a request is refused for stay what they are.
func SchemaErr(op, schema string, e *messages.Error) error {
	switch e.GetCode() {
	case messages.Code_CODE_INVALID_NAME, messages.Code_CODE_UNKNOWN_DATABASE, messages.Code_CODE_CLOSED, messages.Code_CODE_INVALID_ARGUMENT:
		return e
	}
	return &messages.SchemaError{Database: e.GetDatabase(), Schema: schema, Op: op, Message: e.GetMessage(), SQLState: e.GetSqlstate(), Err: e}
}

// RegisterModel registers req's model; it reads as the model's name.
func RegisterModel(req *messages.RegisterModel) Op[string] {
	name := req.GetModel().GetName()
	return Op[string]{
		Build: func(*timestamppb.Timestamp) any { return req },
		Read: func(reply any, err error) (string, error) {
			r, err := modelResult("register model", name, reply, err)
			return r.GetModel().GetName(), err
		},
	}
}

// DeleteModel deletes the model called name; it reads as whether there
// was one.
func DeleteModel(name string) Op[bool] {
	return Op[bool]{
		Build: func(*timestamppb.Timestamp) any { return &messages.DeleteModel{Name: name} },
		Read: func(reply any, err error) (bool, error) {
			r, err := modelResult("delete model", name, reply, err)
			return r.GetChanged(), err
		},
	}
}

func modelResult(op, name string, reply any, err error) (*messages.ModelResult, error) {
	if err != nil {
		return nil, fmt.Errorf("dbactor: %s %q: %w", op, name, err)
	}
	r, ok := reply.(*messages.ModelResult)
	if !ok {
		return nil, request.Unexpected(reply)
	}
	if e := r.GetError(); e != nil {
		return nil, e
	}
	return r, nil
}

// Migrate runs a Migrate request (build makes it, given its deadline; a
// fresh one each time). It reads as the reply and the failures of its sets
// joined, one *messages.MigrationError each (MigrationErr); a request that
// failed as a whole (refused, no migrations served) reads as its *Error
// alone.
func Migrate(refused error, build func(*timestamppb.Timestamp) *messages.Migrate) Op[*messages.MigrateResult] {
	return Op[*messages.MigrateResult]{
		Refused: refused,
		Build:   func(ts *timestamppb.Timestamp) any { return build(ts) },
		Read: func(reply any, err error) (*messages.MigrateResult, error) {
			if err != nil {
				return nil, fmt.Errorf("dbactor: migrate: %w", err)
			}
			r, ok := reply.(*messages.MigrateResult)
			if !ok {
				return nil, request.Unexpected(reply)
			}
			if e := r.GetError(); e != nil {
				return nil, e
			}
			var errs []error
			for _, s := range r.GetSets() {
				if err := MigrationErr(r.GetOp(), s); err != nil {
					errs = append(errs, err)
				}
			}
			if n := r.GetOmittedFailed(); n > 0 {
				errs = append(errs, fmt.Errorf("%w: %d more failed sets were left out of the reply (max_bytes)", messages.ErrMigration, n))
			}
			return r, errors.Join(errs...)
		},
	}
}

// MigrationErr is the error of one set of a MigrateResult: nil when it did
// not fail, else a *messages.MigrationError whose cause is the set's
// *messages.Error.
func MigrationErr(op messages.MigrateOp, s *messages.MigrationSet) error {
	e := s.GetError()
	if e == nil {
		return nil
	}
	return &messages.MigrationError{Database: s.GetDatabase(), Schema: s.GetSchema(), Version: s.GetFailedVersion(),
		Source: s.GetFailedSource(), Op: MigrateOpName(op), Err: e}
}

// MigrateOpName is op as package migrate names it: "status", "up", "down".
func MigrateOpName(op messages.MigrateOp) string {
	switch op {
	case messages.MigrateOp_MIGRATE_OP_STATUS:
		return "status"
	case messages.MigrateOp_MIGRATE_OP_UP:
		return "up"
	case messages.MigrateOp_MIGRATE_OP_DOWN:
		return "down"
	}
	return op.String()
}
