package faults

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Panic makes the actor that receives it panic with Value while handling a
// message, as a bug would.
type Panic struct{ Value any }

// Point names a place in dbactor's code where a test can inject a fault.
type Point string

// The points dbactor's code passes through.
const (
	// DatabaseReceive: a database actor is about to handle a message.
	DatabaseReceive Point = "database.receive"
	// DatabaseOpened: a database actor has just opened its pool for a
	// connect (0 → 1) and not yet answered.
	DatabaseOpened Point = "database.opened"
	// SupervisorReceive: a supervisor actor is about to handle a message.
	SupervisorReceive Point = "supervisor.receive"
	// SupervisorFanOut: a supervisor's background connect or disconnect of
	// every database is about to start.
	SupervisorFanOut Point = "supervisor.fanout"
	// SupervisorConnected: a supervisor's connect of every database has its
	// answers (msg: []supervisor.Outcome) and has not yet acted on them.
	SupervisorConnected Point = "supervisor.connected"
	// RegistryReceive: a registry actor is about to handle a message.
	RegistryReceive Point = "registry.receive"
	// SchemaJob: a registry's schema job is about to run.
	SchemaJob Point = "registry.schemajob"
	// HealthPing: a database's health ping or recovery probe is about to
	// run; the function's panic is the ping failing.
	HealthPing Point = "database.healthping"
	// QueryWorker: a query worker is about to run a statement (msg: the
	// *messages.Query or *messages.Exec).
	QueryWorker Point = "database.query"
)

// Fault runs at an armed point: self is the actor (nil outside one), msg
// the message being handled (nil outside one).
type Fault func(self *actor.PID, msg any)

var (
	armed atomic.Bool
	mu    sync.Mutex
	table = map[Point]Fault{}
)

// Arm makes Hit(p, …) run f until the returned disarm is called. Tests that
// arm a point must not run in parallel with others that pass through it;
// f should filter on self or msg.
func Arm(p Point, f Fault) (disarm func()) {
	mu.Lock()
	defer mu.Unlock()
	table[p] = f
	armed.Store(true)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		delete(table, p)
		armed.Store(len(table) > 0)
	}
}

// Hit runs the fault armed at p, if any.
func Hit(p Point, self *actor.PID, msg any) {
	if !armed.Load() {
		return
	}
	mu.Lock()
	f := table[p]
	mu.Unlock()
	if f != nil {
		f(self, msg)
	}
}
