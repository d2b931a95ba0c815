package testdb

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs the package's tests and fails if goroutines are left
// behind. The one goroutine it tolerates is Proto.Actor's dead-letter log
// throttle: the library starts it on a dead letter and it ends by itself
// after the throttle interval (1 s); it is neither ours nor a leak.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}
