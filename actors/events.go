package actors

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// Publish sends ev to sys's EventStream, then to the database's event hook
// (see Emit).
func (s *State) Publish(sys *actor.ActorSystem, ev messages.Event) {
	Emit(sys, s.events, ev, s.logger, s.Scrub)
}

// Emit sends ev to sys's EventStream (when sys is not nil), then to hook
// (when set). Subscribers and the hook run on the calling goroutine — a
// health loop, a supervisor — so a panic in either is recovered and logged
// (its value passed through scrub), never the end of the process.
func Emit(sys *actor.ActorSystem, hook func(messages.Event), ev messages.Event, logger *slog.Logger, scrub func(string) string) {
	PublishSafely(sys, ev, logger, scrub)
	if hook != nil {
		call("event hook", func() { hook(ev) }, ev, logger, scrub)
	}
}

// PublishSafely publishes ev on sys's EventStream (when sys is not nil),
// recovering a panic in a subscriber (logged, its value through scrub).
func PublishSafely(sys *actor.ActorSystem, ev any, logger *slog.Logger, scrub func(string) string) {
	if sys != nil {
		call("EventStream subscriber", func() { sys.EventStream.Publish(ev) }, ev, logger, scrub)
	}
}

func call(what string, f func(), ev any, logger *slog.Logger, scrub func(string) string) {
	defer func() {
		if r := recover(); r != nil {
			logger.Error("dbactor: "+what+" panicked", "event", fmt.Sprintf("%T", ev), "panic", scrub(fmt.Sprint(r)))
		}
	}()
	f()
}

// Logger is the database's logger (the registry's, with the database named).
func (s *State) Logger() *slog.Logger { return s.logger }
