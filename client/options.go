package client

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// SchemaOption adjusts CreateSchema and DropSchema (of a Client, an Async
// or a registry).
type SchemaOption func(*messages.SchemaOptions)

// SchemaOptions applies opts.
func SchemaOptions(opts ...SchemaOption) *messages.SchemaOptions {
	var o messages.SchemaOptions
	for _, opt := range opts {
		opt(&o)
	}
	return &o
}

// IfNotExists makes CreateSchema succeed when the schema (or a table)
// exists already.
func IfNotExists() SchemaOption { return func(o *messages.SchemaOptions) { o.IfNotExists = true } }

// IfExists makes DropSchema succeed when the schema does not exist.
func IfExists() SchemaOption { return func(o *messages.SchemaOptions) { o.IfExists = true } }

// Cascade makes DropSchema drop everything in the schema; without it a
// schema that still holds tables is not dropped.
func Cascade() SchemaOption { return func(o *messages.SchemaOptions) { o.Cascade = true } }

// WithModels makes CreateSchema create every registered model's table
// inside the new schema (models bound to a schema of their own are left
// alone): a tenant's tables in one call (Edgy's init_models=True).
func WithModels() SchemaOption { return func(o *messages.SchemaOptions) { o.WithModels = true } }

// OnDatabases names the databases to act on, in order: "" is the main
// database, extras by name. Without it only the main database.
func OnDatabases(names ...string) SchemaOption {
	return func(o *messages.SchemaOptions) { o.Databases = append(o.Databases, names...) }
}

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

// CallbackRequest is the RegisterCallback request subscribing pid (nil: the
// registry spawns the callback actor) to model.
func CallbackRequest(model string, pid *actor.PID, opts ...CallbackOption) *messages.RegisterCallback {
	msg := &messages.RegisterCallback{Model: model}
	if pid != nil {
		msg.Callback = &messages.Pid{Address: pid.GetAddress(), Id: pid.GetId()}
	}
	for _, o := range opts {
		o(msg)
	}
	return msg
}

// CallbackProps turns fn into a callback actor: it calls fn with every
// messages.ModelRegistered it receives, one at a time, in the order they
// arrive, and ignores anything else. A panic in fn is the actor's crash, for
// its parent to handle (a registry restarts the callback actors it owns:
// the event that crashed is lost, the next one is delivered). The event
// may be shared with other callback actors in the same process: fn must not
// change it.
func CallbackProps(fn func(*messages.ModelRegistered)) *actor.Props {
	return actor.PropsFromFunc(func(c actor.Context) {
		if ev, ok := c.Message().(*messages.ModelRegistered); ok {
			fn(ev)
		}
	})
}
