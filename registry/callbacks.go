package registry

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/internal/regactor"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

// RegisterCallback subscribes the actor pid (local or on another node) to
// registrations of the model called model, or of every model when model is
// "" — Edgy's register_callback, with an actor in place of a function. Each
// registration sends pid a *messages.ModelRegistered; for models already
// registered the events are sent at once. Edgy's rules hold: one-time by
// default for a named model, persistent for every model (client.OneTime and
// client.Persistent choose); a one-time callback
// that fired at once is not kept; on registration one-time callbacks of the
// model fire first (last registered first), then one-time ones for every
// model (last first), then persistent ones of the model, then persistent
// ones for every model (first registered first). An actor sees its events
// in registration order. When the actor stops, its callbacks are dropped.
// The local callback actors of one registration all receive the same
// *messages.ModelRegistered (actor messages are passed by pointer): read
// it, never change it.
func (r *Registry) RegisterCallback(ctx context.Context, model string, pid *actor.PID, opts ...client.CallbackOption) error {
	if pid == nil {
		return fmt.Errorf("%w: RegisterCallback: nil PID", messages.ErrInvalidArgument)
	}
	_, err := ops.Do(ctx, r.caller, r.pid, ops.RegisterCallback(client.CallbackRequest(model, pid, opts...)))
	return err
}

// RegisterCallbackFunc runs fn for model registrations (see
// RegisterCallback) in a callback actor the registry spawns and owns: fn
// sees one event at a time, in order. A panic in fn restarts that actor;
// the event that crashed it is lost, the registry and other callbacks carry
// on. The actor stops with the registry, or once a one-time callback has
// fired. fn shares its event with the registration's other callbacks: it
// must not change it. It returns the actor's PID.
func (r *Registry) RegisterCallbackFunc(ctx context.Context, model string, fn func(*messages.ModelRegistered), opts ...client.CallbackOption) (*actor.PID, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: RegisterCallbackFunc: nil func", messages.ErrInvalidArgument)
	}
	msg := client.CallbackRequest(model, nil, opts...)
	req := &regactor.SpawnCallback{Props: client.CallbackProps(fn).Configure(actor.WithReceiverMiddleware(crash.Guard(r.plan.Scrub, nil))), Msg: msg}
	reply, err := r.caller.Call(ctx, r.pid, func(*timestamppb.Timestamp) any { return req }, nil)
	if err != nil {
		return nil, fmt.Errorf("dbactor: register callback: %w", err)
	}
	res, ok := reply.(*regactor.SpawnedCallback)
	if !ok {
		return nil, request.Unexpected(reply)
	}
	if e := res.Result.GetError(); e != nil {
		return nil, e
	}
	return res.PID, nil
}
