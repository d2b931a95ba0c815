package registry

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/messages"
)

// CallbackOption adjusts RegisterCallback.
type CallbackOption func(*messages.RegisterCallback)

// OneTime makes the callback fire once, for the next matching registration
// (or at once for models already registered), then drops it. The default
// for a named model.
func OneTime() CallbackOption {
	return func(m *messages.RegisterCallback) { m.Mode = messages.CallbackMode_CALLBACK_MODE_ONE_TIME }
}

// Persistent keeps the callback for every matching registration. The
// default for all models (model "").
func Persistent() CallbackOption {
	return func(m *messages.RegisterCallback) { m.Mode = messages.CallbackMode_CALLBACK_MODE_PERSISTENT }
}

// ModelRegistered is the event a callback actor receives.
type ModelRegistered = messages.ModelRegistered

// RegisterCallback subscribes the actor pid (local or on another node) to
// registrations of the model called model, or of every model when model is
// "" — Edgy's register_callback, with an actor in place of a function. Each
// registration sends pid a *messages.ModelRegistered; for models already
// registered the events are sent at once. Edgy's rules hold: one-time by
// default for a named model, persistent for every model; a one-time callback
// that fired at once is not kept; on registration one-time callbacks of the
// model fire first (last registered first), then one-time ones for every
// model (last first), then persistent ones of the model, then persistent
// ones for every model (first registered first). An actor sees its events
// in registration order. When the actor stops, its callbacks are dropped.
func (r *Registry) RegisterCallback(ctx context.Context, model string, pid *actor.PID, opts ...CallbackOption) error {
	if pid == nil {
		return fmt.Errorf("%w: RegisterCallback: nil PID", ErrInvalidArgument)
	}
	msg := &messages.RegisterCallback{Model: model, Callback: &messages.Pid{Address: pid.GetAddress(), Id: pid.GetId()}}
	for _, o := range opts {
		o(msg)
	}
	return r.callback(ctx, msg)
}

// RegisterCallbackFunc runs fn for model registrations (see
// RegisterCallback) in a callback actor the registry spawns and owns: fn
// sees one event at a time, in order. A panic in fn restarts that actor;
// the event that crashed it is lost, the registry and other callbacks carry
// on. The actor stops with the registry, or once a one-time callback has
// fired. It returns the actor's PID.
func (r *Registry) RegisterCallbackFunc(ctx context.Context, model string, fn func(*ModelRegistered), opts ...CallbackOption) (*actor.PID, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: RegisterCallbackFunc: nil func", ErrInvalidArgument)
	}
	msg := &messages.RegisterCallback{Model: model}
	for _, o := range opts {
		o(msg)
	}
	req := &spawnCallback{props: actors.CallbackProps(fn).Configure(actor.WithReceiverMiddleware(crash.Guard(r.plan.scrub, nil))), msg: msg}
	reply, err := r.call(ctx, r.pid, func(*timestamppb.Timestamp) any { return req }, nil)
	if err != nil {
		return nil, fmt.Errorf("dbactor: register callback: %w", err)
	}
	res, ok := reply.(*spawnedCallback)
	if !ok {
		return nil, unexpected(reply)
	}
	if e := res.result.GetError(); e != nil {
		return nil, e
	}
	return res.pid, nil
}

func (r *Registry) callback(ctx context.Context, msg *messages.RegisterCallback) error {
	reply, err := r.call(ctx, r.pid, func(*timestamppb.Timestamp) any { return msg }, nil)
	return callbackOutcome(reply, err)
}

// callbackOutcome is a RegisterCallback's error.
func callbackOutcome(reply any, err error) error {
	if err != nil {
		return fmt.Errorf("dbactor: register callback: %w", err)
	}
	res, ok := reply.(*messages.CallbackResult)
	if !ok {
		return unexpected(reply)
	}
	if e := res.GetError(); e != nil {
		return e
	}
	return nil
}

// spawnCallback asks the registry actor to spawn a callback actor from props
// as its child and subscribe it. Local only: props do not cross nodes.
type spawnCallback struct {
	props *actor.Props
	msg   *messages.RegisterCallback
}

type spawnedCallback struct {
	pid    *actor.PID
	result *messages.CallbackResult
}
