// Package events is the one way dbactor's packages publish an event: on
// the actor system's EventStream, then to the user's event hook.
package events

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// Publish sends ev to sys's EventStream (when sys is not nil), then, when
// ev is a messages.Event, to hook (when set). Subscribers and the hook run
// on the calling goroutine — a health loop, a supervisor — so a panic in
// either is recovered and logged to logger (nil: discarded) with its value
// passed through scrub (nil: kept as is), never the end of the process.
func Publish(sys *actor.ActorSystem, hook func(messages.Event), logger *slog.Logger, scrub func(string) string, ev any) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if scrub == nil {
		scrub = func(s string) string { return s }
	}
	if sys != nil {
		call("EventStream subscriber", func() { sys.EventStream.Publish(ev) }, ev, logger, scrub)
	}
	if e, ok := ev.(messages.Event); ok && hook != nil {
		call("event hook", func() { hook(e) }, ev, logger, scrub)
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
