// Package plumbing lets dbactor's own packages (the registry, the node)
// reach what packages actors and supervisor keep from their users: how a
// registry wires its databases and its supervisor together. Those two
// packages fill in the functions here when they are initialised; the
// arguments typed any are the types named in each comment (Go has no
// friend packages, and these cannot name the types without an import
// cycle).
package plumbing

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/sqlite"
	"github.com/dbactor/dbactor/messages"
)

// Of an *actors.State (set by package actors).
var (
	// SQLite is the open SQLite database with its schemas (attached
	// database files, see internal/sqlite): CreateSchema, DropSchema and
	// Schemas go through it. Its SQL() is the State's DB(). nil when
	// closed and for PostgreSQL.
	SQLite func(state any) *sqlite.DB
	// Secrets are the passwords of the database's own URL.
	Secrets func(state any) []string
	// AlsoScrub adds secrets to those the State's Scrub removes: the
	// passwords of the other databases of its registry. Call it before
	// the database is used.
	AlsoScrub func(state any, secrets ...string)
	// Publish sends ev to sys's EventStream, then to the database's event
	// hook, logged and scrubbed as the database's own events are.
	Publish func(state any, sys *actor.ActorSystem, ev messages.Event)
)

// SupervisorHooks are what a registry gives its supervisor besides
// supervisor.Options.
type SupervisorHooks struct {
	// Held counts the registry-wide connects not yet matched by a
	// disconnect. The registry keeps it so that it can release shared
	// databases even when it is stopped without Close; nil: the
	// supervisor keeps its own.
	Held *atomic.Int64
	// Answered, when set, is called once for every registry-wide Connect
	// or Disconnect (no target) the supervisor's operations answer, with
	// the answer, just before it is sent (reply nil: the operation
	// crashed). It runs on the goroutine that answers; it must not block.
	// A crash in the supervisor's Receive itself, or a request drained
	// while it stops, is answered without it: the registry's strategy
	// covers the first.
	Answered func(req, reply any)
}

// SupervisorProps is supervisor.Props(members, opts) with a registry's
// hooks: members is a []supervisor.Member, opts a supervisor.Options (set
// by package supervisor).
var SupervisorProps func(members, opts any, hooks SupervisorHooks) *actor.Props
