package registry

import (
	"context"
	"fmt"

	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/models"
)

// RegisterModel registers v as a model. Inside the registration, in Edgy's
// callback order, it runs the registry's own callbacks (the content_type
// column) and the model hooks (RegisterModelHook), so what they add is on
// the model it returns; a hook's failure fails the registration
// (ErrHookFailed) and changes nothing. Callback actors (RegisterCallback,
// RegisterCallbackFunc) are only notified: their events are sent, in the
// same order, once the model is registered, and arrive after RegisterModel
// returns or around then. v is a Go struct (a value, a pointer, or
// a reflect.Type), whose struct tags (`db:"name,pk,null,unique,…"`, see
// package models) name columns and mark keys and whose Go types map to
// column types, shaped by models.Name, models.Table, models.Schema,
// models.Database and models.NoContentType; or a *models.Model (models.New
// of a definition, say one received from another node), registered as it
// is. Without models.KeepExisting or models.ReplaceExisting a taken name
// fails with ErrModelCollision. An invalid definition fails with
// ErrInvalidModel (errors.As: *models.DefinitionError) before anything is
// sent. See models.Registration.
//
// The model returned is the registry's own: its table metadata (the DDL for
// each dialect) is computed lazily; see InitModels and InvalidateModels.
func (r *Registry) RegisterModel(ctx context.Context, v any, opts ...models.Option) (*models.Model, error) {
	req, err := models.Registration(v, opts...)
	if err != nil {
		return nil, err
	}
	name, err := ops.Do(ctx, r.caller, r.pid, ops.RegisterModel(req))
	if err != nil {
		return nil, err
	}
	m, ok := r.plan.Model(name)
	if !ok {
		return nil, fmt.Errorf("%w: model %q was deleted as it was registered", ErrUnknownModel, name)
	}
	return m, nil
}

// Model returns the model registered under name ("ContentType" is the
// content-type model of a registry with content types, also when shared from
// another registry); the error
// matches ErrUnknownModel when there is none.
func (r *Registry) Model(name string) (*models.Model, error) {
	if m, ok := r.plan.Model(name); ok {
		return m, nil
	}
	return nil, fmt.Errorf("%w: registry has no %q model", ErrUnknownModel, name)
}

// Models returns the registered models in registration order.
func (r *Registry) Models() []*models.Model { return r.plan.Models() }

// ContentType is the content-type model: this registry's own (Edgy's, or
// the custom Config.ContentType), or another registry's that it shares;
// nil without content types.
func (r *Registry) ContentType() *models.Model { return r.plan.ContentType() }

// DeleteModel removes the model registered under name and reports whether
// there was one (Edgy's delete_model). Its table is left alone.
func (r *Registry) DeleteModel(ctx context.Context, name string) (bool, error) {
	return ops.Do(ctx, r.caller, r.pid, ops.DeleteModel(name))
}

// Callbacks is the number of callbacks kept for later registrations (a
// one-time callback that fired, or the callbacks of an actor that stopped,
// are no longer counted).
func (r *Registry) Callbacks() int { return r.plan.Callbacks() }

// TableNames returns the registered models' tables, sorted, each once.
func (r *Registry) TableNames() []string {
	return r.plan.TableNames()
}

// InitModels computes every registered model's table metadata now instead
// of on first use (Edgy's init_models).
func (r *Registry) InitModels() {
	for _, m := range r.Models() {
		m.Init()
	}
}

// InvalidateModels drops every registered model's table metadata; the next
// use computes it again (Edgy's invalidate_models).
func (r *Registry) InvalidateModels() {
	for _, m := range r.Models() {
		m.Invalidate()
	}
}
