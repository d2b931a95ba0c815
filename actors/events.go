package actors

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// Publish sends ev to sys's EventStream (when sys is not nil), then to the
// database's event hook. EventStream subscribers and the hook run on the
// calling goroutine; a panicking hook is logged, not fatal.
func (s *State) Publish(sys *actor.ActorSystem, ev messages.Event) {
	if sys != nil {
		sys.EventStream.Publish(ev)
	}
	if s.events != nil {
		CallHook(s.events, ev, s.logger, s.Scrub)
	}
}

// CallHook runs hook(ev). A panic in it is recovered and logged, its value
// passed through scrub first.
func CallHook(hook func(messages.Event), ev messages.Event, logger *slog.Logger, scrub func(string) string) {
	defer func() {
		if r := recover(); r != nil {
			logger.Error("dbactor: event hook panicked", "event", fmt.Sprintf("%T", ev), "panic", scrub(fmt.Sprint(r)))
		}
	}()
	hook(ev)
}
