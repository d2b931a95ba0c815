package regactor

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/messages"
)

// MaxMigrations is how many Migrate requests a registry works on at once;
// one more is answered CODE_OVERLOADED. Each holds database counts and,
// on PostgreSQL, connections of its own per set: peers must not be able
// to make a node open them without bound.
const MaxMigrations = 4

// MigrationHandler answers a Migrate request. The registry actor runs it on
// a goroutine of its own (never in its mailbox), as it runs schema jobs:
// ctx ends at the request's deadline (else the registry's timeout) and
// when Close has waited long enough for it. It must return once ctx has
// ended, with a reply for the sender.
type MigrationHandler func(ctx context.Context, req *messages.Migrate) *messages.MigrateResult

// ServeMigrations makes the registry actor answer Migrate requests with
// Handler (replacing any handler it had). Local only: a Go type, which no
// other node can send. The answer is a *ServingMigrations.
type ServeMigrations struct{ Handler MigrationHandler }

// ServingMigrations answers ServeMigrations: Err is set when the registry
// refused (closed, misconfigured).
type ServingMigrations struct{ Err *messages.Error }

// serveMigrations installs a handler. It lives in the Plan, so that it
// survives a restart of the actor; only the actor touches it.
func (a *registryActor) serveMigrations(c actor.Context, m *ServeMigrations) {
	if e := a.refuse(); e != nil {
		respond(c, &ServingMigrations{Err: e})
		return
	}
	if m.Handler == nil {
		respond(c, &ServingMigrations{Err: &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "ServeMigrations without a handler"}})
		return
	}
	a.p.migrations = m.Handler
	respond(c, &ServingMigrations{})
}

// migrate starts the work of a Migrate request on a goroutine of its own,
// which answers the sender (any node's) itself: the registry actor goes on
// at once.
func (a *registryActor) migrate(c actor.Context, m *messages.Migrate) {
	sender, sys, scrub := c.Sender(), c.ActorSystem(), a.p.Scrub
	fail := func(e *messages.Error) { respond(c, messages.FailedReply(m, e)) }
	switch {
	case a.p.migrations == nil:
		fail(&messages.Error{Code: messages.Code_CODE_UNSUPPORTED, Message: "this registry serves no migrations (package migrate's Serve)"})
		return
	case a.migrating >= MaxMigrations:
		fail(&messages.Error{Code: messages.Code_CODE_OVERLOADED, Message: fmt.Sprintf("%d migration requests are under way, the most a registry runs at once: retry later", a.migrating)})
		return
	}
	handler := a.p.migrations
	now := time.Now()
	end := deadline.Inner(deadline.FromMessage(m.GetDeadline(), now, a.p.Timeout), now)
	// A key of its own: a local sender may send one message value twice.
	ctx, done := a.startJob(c, &migrateJob{})
	ctx, cancel := context.WithDeadline(ctx, end)
	a.migrating++
	a.p.work.Add(1)
	go func() {
		defer a.p.work.Done()
		reply := safeMigrate(ctx, handler, m, scrub)
		cancel()
		// The count goes back before the sender hears: the request it
		// sends next reaches the registry's mailbox after jobDone, and is
		// not refused as one too many.
		done()
		if sender != nil {
			sys.Root.Send(sender, reply)
		}
	}()
}

// migrateJob keys the job of one Migrate request (not of a size 0, so
// that every one is a pointer of its own).
type migrateJob struct{ _ byte }

// safeMigrate runs the handler; a panic in it (a bug) is an internal error
// reply, so the sender is answered and the job ends.
func safeMigrate(ctx context.Context, h MigrationHandler, m *messages.Migrate, scrub func(string) string) (reply *messages.MigrateResult) {
	defer func() {
		if r := recover(); r != nil {
			reply = messages.FailedReply(m, &messages.Error{Code: messages.Code_CODE_INTERNAL,
				Message: "migration work crashed: " + crash.Wrap(r, scrub).Reason}).(*messages.MigrateResult)
		}
	}()
	if reply = h(ctx, m); reply == nil {
		reply = messages.FailedReply(m, &messages.Error{Code: messages.Code_CODE_INTERNAL, Message: "the migration handler gave no result"}).(*messages.MigrateResult)
	}
	return reply
}
