package registry

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/regactor"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// RegisterModelHook makes fn a model hook for registrations of the model
// called model, or of every model when model is "": Edgy's
// register_callback(model, fn, one_time) with a function that may change
// the model ("use callbacks to modify models"), say add a column with
// models.Model.AddColumn. Unlike a callback actor (RegisterCallback), which
// is told of a registration afterwards, a hook runs inside the registration,
// in the registry actor, in Edgy's callback order (see RegisterCallback), so
// what it changes is there when RegisterModel returns — for every
// registration the registry makes, including a messages.RegisterModel sent
// by an actor on another node, and the models registered again by Copy
// (whose hooks are the copy's own: hooks are not copied).
//
// Edgy's rules hold: one-time by default for a named model, persistent for
// every model (client.OneTime, client.Persistent); models already
// registered that the hook fires for are given to it at once, before
// RegisterModelHook returns, and a one-time hook that ran at once is not
// kept.
//
// A hook that returns an error or panics fails the registration: the
// registration's error matches ErrHookFailed and carries the hook's error
// text, and the registry is as it was before it — the model is not
// registered (a model ReplaceExisting would have replaced is still there),
// the one-time callbacks and hooks it would have consumed are still
// waiting, and no callback actor is told. At RegisterModelHook itself, a
// hook failing for a model already registered fails the call the same way:
// it runs on a copy of each model first, so no model changes and the hook
// is not kept. A panic costs nothing else: the registry actor keeps its
// models.
//
// A hook runs inside the registry actor: it must return quickly, and it may
// read the registry (Model, Models, TableNames) but must not make a
// blocking call on it or its databases (RegisterModel, Connect, Close, a
// schema call…), which would wait for the registry actor running the hook:
// such a call fails at once with an error matching
// messages.ErrInvalidArgument instead. fn may be called from different
// goroutines, one registration at a time.
func (r *Registry) RegisterModelHook(ctx context.Context, model string, fn func(*models.Model) error, opts ...client.CallbackOption) error {
	if fn == nil {
		return fmt.Errorf("%w: RegisterModelHook: nil func", messages.ErrInvalidArgument)
	}
	req := &regactor.RegisterHook{Msg: client.CallbackRequest(model, nil, opts...), Fn: fn}
	reply, err := r.caller.Call(ctx, r.pid, func(*timestamppb.Timestamp) any { return req }, nil)
	if err != nil {
		return fmt.Errorf("dbactor: register model hook: %w", err)
	}
	res, ok := reply.(*messages.CallbackResult)
	if !ok {
		return request.Unexpected(reply)
	}
	if e := res.GetError(); e != nil {
		return e
	}
	return nil
}

// refuseInHook refuses a blocking call made from inside one of the
// registry's model hooks (request.Caller.Refuse).
func (p *plan) refuseInHook() error {
	if p.Plan != nil && p.InHook() {
		return regactor.ErrHookCall
	}
	return nil
}
