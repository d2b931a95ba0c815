package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// CallbackProps turns fn into a callback actor: it calls fn with every
// messages.ModelRegistered it receives, one at a time, in the order they
// arrive, and ignores anything else. A panic in fn is the actor's crash, for
// its parent to handle (a registry restarts the callback actors it owns:
// the event that crashed is lost, the next one is delivered).
func CallbackProps(fn func(*messages.ModelRegistered)) *actor.Props {
	return actor.PropsFromFunc(func(c actor.Context) {
		if ev, ok := c.Message().(*messages.ModelRegistered); ok {
			fn(ev)
		}
	})
}
