package regactor

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// SpawnCallback asks the registry actor to spawn a callback actor from
// Props as its child and subscribe it as Msg says. Local only: props do not
// cross nodes. The answer is a *SpawnedCallback.
type SpawnCallback struct {
	Props *actor.Props
	Msg   *messages.RegisterCallback
}

// SpawnedCallback answers a SpawnCallback: the actor, and the subscription's
// result.
type SpawnedCallback struct {
	PID    *actor.PID
	Result *messages.CallbackResult
}
