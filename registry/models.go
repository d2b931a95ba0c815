package registry

import (
	"context"
	"fmt"
	"github.com/dbactor/dbactor/internal/request"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// Model is a registered model: a table, its columns and where it lives. Its
// table metadata (the DDL for each dialect) is computed lazily; see
// InitModels and InvalidateModels.
type Model = models.Model

// ModelOption adjusts RegisterModel.
type ModelOption func(*modelOptions)

type modelOptions struct {
	parse      []models.Option
	onConflict messages.OnConflict
}

// ModelName names the model (default: the Go type's name). Callbacks and
// Model look models up by this name.
func ModelName(name string) ModelOption {
	return func(o *modelOptions) { o.parse = append(o.parse, models.Name(name)) }
}

// TableName sets the table (default, as in Edgy: the model name lower-cased
// plus "s").
func TableName(table string) ModelOption {
	return func(o *modelOptions) { o.parse = append(o.parse, models.Table(table)) }
}

// ModelSchema binds the model to a schema; without it the model's table
// lives in the registry schema (Config.Schema) or the schema a call names.
func ModelSchema(schema string) ModelOption {
	return func(o *modelOptions) { o.parse = append(o.parse, models.Schema(schema)) }
}

// ModelDatabase binds the model to an extra database (Edgy's
// `database=`); without it the model lives in the main database.
func ModelDatabase(name string) ModelOption {
	return func(o *modelOptions) { o.parse = append(o.parse, models.Database(name)) }
}

// WithoutContentType opts the model out of the content_type reference a
// registry with Config.WithContentType adds to every model.
func WithoutContentType() ModelOption {
	return func(o *modelOptions) { o.parse = append(o.parse, models.NoContentType()) }
}

// KeepExisting makes RegisterModel keep a model already registered under the
// name and return it, running no callbacks (Edgy's on_conflict="keep").
func KeepExisting() ModelOption {
	return func(o *modelOptions) { o.onConflict = messages.OnConflict_ON_CONFLICT_KEEP }
}

// ReplaceExisting makes RegisterModel delete a model already registered under
// the name first (Edgy's on_conflict="replace").
func ReplaceExisting() ModelOption {
	return func(o *modelOptions) { o.onConflict = messages.OnConflict_ON_CONFLICT_REPLACE }
}

// RegisterModel registers the Go struct v (a value, a pointer, or a
// reflect.Type) as a model and runs the model callbacks, in Edgy's order,
// before it returns. Struct tags (`db:"name,pk,null,unique,…"`, see package
// models) name columns and mark keys; Go types map to column types.
// Without KeepExisting or ReplaceExisting a taken name fails with
// ErrModelCollision. An invalid definition fails with ErrInvalidModel
// (errors.As: *models.DefinitionError) before anything is sent.
func (r *Registry) RegisterModel(ctx context.Context, v any, opts ...ModelOption) (*Model, error) {
	var o modelOptions
	for _, opt := range opts {
		opt(&o)
	}
	def, err := models.FromStruct(v, o.parse...)
	if err != nil {
		return nil, err
	}
	return r.RegisterModelDef(ctx, def, o.onConflict)
}

// RegisterModelDef registers a model from its definition, the form in which
// models cross nodes (messages.RegisterModel). See RegisterModel.
func (r *Registry) RegisterModelDef(ctx context.Context, def *messages.ModelDef, onConflict messages.OnConflict) (*Model, error) {
	if _, err := models.New(def); err != nil {
		return nil, err
	}
	reply, err := r.caller.Call(ctx, r.pid, func(*timestamppb.Timestamp) any {
		return &messages.RegisterModel{Model: def, OnConflict: onConflict}
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("dbactor: register model %q: %w", def.GetName(), err)
	}
	res, ok := reply.(*messages.ModelResult)
	if !ok {
		return nil, request.Unexpected(reply)
	}
	if e := res.GetError(); e != nil {
		return nil, e
	}
	m, ok := r.plan.book.get(res.GetModel().GetName())
	if !ok {
		return nil, fmt.Errorf("%w: model %q was deleted as it was registered", ErrUnknownModel, def.GetName())
	}
	return m, nil
}

// Model returns the model registered under name ("ContentType" is the
// content-type model of a registry with Config.WithContentType); the error
// matches ErrUnknownModel when there is none.
func (r *Registry) Model(name string) (*Model, error) {
	if m, ok := r.plan.book.get(name); ok {
		return m, nil
	}
	return nil, fmt.Errorf("%w: registry has no %q model", ErrUnknownModel, name)
}

// Models returns the registered models in registration order.
func (r *Registry) Models() []*Model { return r.plan.book.models() }

// ContentType is the content-type model, nil unless Config.WithContentType.
func (r *Registry) ContentType() *Model { return r.plan.book.contentType }

// DeleteModel removes the model registered under name and reports whether
// there was one (Edgy's delete_model). Its table is left alone.
func (r *Registry) DeleteModel(ctx context.Context, name string) (bool, error) {
	reply, err := r.caller.Call(ctx, r.pid, func(*timestamppb.Timestamp) any {
		return &messages.DeleteModel{Name: name}
	}, nil)
	if err != nil {
		return false, fmt.Errorf("dbactor: delete model %q: %w", name, err)
	}
	res, ok := reply.(*messages.ModelResult)
	if !ok {
		return false, request.Unexpected(reply)
	}
	if e := res.GetError(); e != nil {
		return false, e
	}
	return res.GetChanged(), nil
}

// Callbacks is the number of callbacks kept for later registrations (a
// one-time callback that fired, or the callbacks of an actor that stopped,
// are no longer counted).
func (r *Registry) Callbacks() int {
	b := r.plan.book
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := b.cat.Callbacks()
	if b.contentType != nil {
		n-- // the registry's own content-type callback
	}
	return n
}

// TableNames returns the registered models' tables, sorted, each once.
func (r *Registry) TableNames() []string { return r.plan.book.tableNames() }

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

// modelsOf lists the models bound to database, in dependency order (a
// referenced table first).
func modelsOf(all []*models.Model, database string) ([]*models.Model, error) {
	mine := slices.DeleteFunc(slices.Clone(all), func(m *models.Model) bool { return m.Database() != database })
	return models.SortByDependencies(mine)
}
