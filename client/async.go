package client

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/ops"
)

// Async is the registry actor Registry (any registry actor's PID: a
// registry.Registry's PID, one spawned with registry.Props as a child of the
// calling actor, or one on another node) seen from inside an actor. Its
// calls work like a Client's, without blocking the calling actor:
//
//   - The facade blocks, and an actor must not block in Receive: it would
//     handle nothing else meanwhile, not even Stop. An Async call sends the
//     request and returns at once; the actor goes on with its mailbox.
//   - then runs later on the actor's own goroutine, between two of its
//     messages, never alongside Receive (a continuation: Proto.Actor's
//     ReenterAfter), so it may read and change the actor's state and use c.
//     Inside it, c.Message() and c.Sender() are again those of the message
//     that made the call: then may c.Respond to that sender. then may be
//     nil.
//   - then gets the errors the facade returns: errors.Is matches the same
//     sentinels and errors.As finds the same types.
//   - Timeout bounds each call (zero or negative: DefaultTimeout). It
//     travels in the request as its deadline, so the registry stops work
//     that would end later; when no reply comes in time, then gets an error
//     matching ErrTimeout (and context.DeadlineExceeded).
//   - A connect whose success comes after then reported a timeout, or after
//     the calling actor stopped, is given back with a Disconnect: no count
//     is held by nobody. If the actor stops before then runs, then does not
//     run.
//   - then is a closure over the instance that made the call: if the actor
//     restarts meanwhile, then still runs, on the old instance's state.
//
// The zero Timeout is ready to use: Async{Registry: pid}.Connect(c, then).
type Async struct {
	Registry *actor.PID
	Timeout  time.Duration
}

// Connect connects every database of the registry, all or nothing, like
// registry.Registry.Connect. then gets nil, or one *ConnectError per failed
// database (ErrConnectFailed, ErrHookFailed, ErrTimeout, …, joined), an
// error matching ErrTimeout, or ErrClosed once the registry has stopped.
func (a Async) Connect(c actor.Context, then func(error)) {
	ops.Async(c, a.Registry, a.Timeout, ops.ConnectAll(nil), errOnly[bool](then))
}

// Disconnect disconnects every database of the registry once, like
// registry.Registry.Disconnect. then gets nil, the joined
// *DisconnectErrors, or an error matching ErrTimeout or ErrClosed. A
// disconnect is never undone: one that timed out may still have happened.
func (a Async) Disconnect(c actor.Context, then func(error)) {
	ops.Async(c, a.Registry, a.Timeout, ops.DisconnectAll(nil), errOnly[bool](then))
}

// ConnectDatabase raises the ref count of one database of the registry
// ("" is the main database, else an extra's name), like
// registry.Database.Connect. then gets opened — true only when this connect
// opened the pool (0 → 1) — or a *ConnectError (ErrUnknownDatabase for a
// name the registry does not have).
func (a Async) ConnectDatabase(c actor.Context, database string, then func(opened bool, err error)) {
	ops.Async(c, a.Registry, a.Timeout, ops.Connect(database, ops.Target(database), nil), then)
}

// DisconnectDatabase lowers the ref count of one database of the registry,
// like registry.Database.Disconnect. then gets closed — true when this
// disconnect closed the pool (1 → 0) — and nil or a *DisconnectError.
func (a Async) DisconnectDatabase(c actor.Context, database string, then func(closed bool, err error)) {
	ops.Async(c, a.Registry, a.Timeout, ops.Disconnect(database, ops.Target(database), false, nil), then)
}

// CreateSchema creates schema like registry.Registry.CreateSchema (same
// options, same on-demand connect that leaves every count as it was). then
// gets nil or a *SchemaError matching ErrSchema (ErrTimeout,
// ErrUnsupported, …), or ErrInvalidName for a name refused before anything
// was sent. Work still running at the deadline is cancelled by the
// registry.
func (a Async) CreateSchema(c actor.Context, schema string, then func(error), opts ...SchemaOption) {
	ops.Async(c, a.Registry, a.Timeout, ops.CreateSchema(schema, SchemaOptions(opts...)), errOnly[struct{}](then))
}

// DropSchema drops schema like registry.Registry.DropSchema (see
// CreateSchema).
func (a Async) DropSchema(c actor.Context, schema string, then func(error), opts ...SchemaOption) {
	ops.Async(c, a.Registry, a.Timeout, ops.DropSchema(schema, SchemaOptions(opts...)), errOnly[struct{}](then))
}

// errOnly adapts then to an operation whose value nobody reads.
func errOnly[T any](then func(error)) func(T, error) {
	if then == nil {
		return nil
	}
	return func(_ T, err error) { then(err) }
}
