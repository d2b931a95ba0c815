package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/events"
	"github.com/dbactor/dbactor/messages"
)

// publish sends ev to sys's EventStream, then to the database's event hook
// (events.Publish).
func (s *State) publish(sys *actor.ActorSystem, ev messages.Event) {
	events.Publish(sys, s.events, s.logger, s.Scrub, ev)
}

// Logger is the database's logger (the registry's, with the database named).
func (s *State) Logger() *slog.Logger { return s.logger }
