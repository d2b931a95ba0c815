package testdb

import (
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// ActorSystem returns an actor system that logs nothing (Proto.Actor's
// default logger writes coloured lines to stderr), shut down when the test
// ends.
func ActorSystem(t testing.TB) *actor.ActorSystem {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(sys.Shutdown)
	return sys
}
