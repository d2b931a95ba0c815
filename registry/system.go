package registry

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// NewActorSystem returns an actor system that logs to logger, or nowhere
// when logger is nil. Proto.Actor's default logger writes coloured lines to
// stderr (dead letters at Info); a library should stay quiet unless asked.
// opts are passed on after the logger option.
func NewActorSystem(logger *slog.Logger, opts ...actor.ConfigOption) *actor.ActorSystem {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	all := append([]actor.ConfigOption{actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger })}, opts...)
	return actor.NewActorSystem(all...)
}
