package faults

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/extensions"
)

// Panic makes the actor that receives it panic with Value while handling a
// message, as a bug would — when its system has an Injector (see Hit).
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

// receive reports whether p is one where an actor is about to handle a
// message: a Panic message there panics.
func (p Point) receive() bool {
	return p == DatabaseReceive || p == SupervisorReceive || p == RegistryReceive
}

// Fault runs at an armed point: self is the actor (nil outside one), msg
// the message being handled (nil outside one).
type Fault func(self *actor.PID, msg any)

// extensionID is the Injector's slot in an actor system's extensions; made
// once, never changed.
var extensionID = extensions.NextExtensionID()

// Injector holds the faults armed on one actor system.
type Injector struct {
	mu    sync.Mutex
	table map[Point]*armed
}

// armed is one Arm's fault: its own pointer, so that its disarm cannot
// remove a later Arm's.
type armed struct{ f Fault }

// ExtensionID implements extensions.Extension.
func (*Injector) ExtensionID() extensions.ExtensionID { return extensionID }

// Install gives sys an Injector and returns it (the one already installed,
// if any). Tests only: call it before spawning the actors it is to reach —
// each actor looks its system's Injector up once, when it is made — and
// not concurrently with spawning on sys.
func Install(sys *actor.ActorSystem) *Injector {
	if in := For(sys); in != nil {
		return in
	}
	in := &Injector{table: map[Point]*armed{}}
	sys.Extensions.Register(in)
	return in
}

// For is sys's Injector; nil when none is installed (production) or sys is
// nil.
func For(sys *actor.ActorSystem) *Injector {
	if sys == nil || sys.Extensions == nil {
		return nil
	}
	in, _ := sys.Extensions.Get(extensionID).(*Injector)
	return in
}

// Arm makes Hit(p, …) run f until the returned disarm is called (a later
// Arm of p replaces f; disarm removes only its own f). f should filter on
// self or msg: every actor of the system passes through p.
func (in *Injector) Arm(p Point, f Fault) (disarm func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	a := &armed{f: f}
	in.table[p] = a
	return func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.table[p] == a {
			delete(in.table, p)
		}
	}
}

// Hit runs the fault armed at p, if any; then, at a Receive point, it
// panics with a Panic message's Value. A nil Injector does nothing.
func (in *Injector) Hit(p Point, self *actor.PID, msg any) {
	if in == nil {
		return
	}
	in.mu.Lock()
	a := in.table[p]
	in.mu.Unlock()
	if a != nil {
		a.f(self, msg)
	}
	if m, ok := msg.(*Panic); ok && p.receive() {
		panic(m.Value)
	}
}
