package crash

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// Crash is the panic value a guarded actor re-panics with.
type Crash struct {
	// Reason is the original panic value as text, passwords removed.
	Reason string
}

// String implements fmt.Stringer.
func (c *Crash) String() string { return c.Reason }

// Error implements error, so a Crash prints the same wherever it goes.
func (c *Crash) Error() string { return c.Reason }

// Guard is a receiver middleware that rewrites any panic passing through it
// into a *Crash whose Reason went through scrub, for the supervisor to
// handle. A panic on a lifecycle message (Started, Restarting, Stopping,
// Stopped) is not handed on: restarting would fail the same way again,
// forever, with the mailbox suspended, and a stopping actor would come back
// to life. It goes to report (when set) and the actor carries on.
func Guard(scrub func(string) string, report func(ctx actor.ReceiverContext, msg any, c *Crash)) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			defer func() {
				r := recover()
				if r == nil {
					return
				}
				cr := Wrap(r, scrub)
				if Lifecycle(env.Message) {
					if report != nil {
						report(c, env.Message, cr)
					}
					return
				}
				panic(cr)
			}()
			next(c, env)
		}
	}
}

// Lifecycle reports a message Proto.Actor sends an actor about its own life.
func Lifecycle(msg any) bool {
	switch msg.(type) {
	case *actor.Started, *actor.Restarting, *actor.Stopping, *actor.Stopped:
		return true
	}
	return false
}

// Wrap makes r a *Crash (unchanged when it is one already).
func Wrap(r any, scrub func(string) string) *Crash {
	if c, ok := r.(*Crash); ok {
		return c
	}
	return &Crash{Reason: scrub(fmt.Sprint(r))}
}

// Reason is the text of a panic value: a Crash's Reason, anything else
// formatted with %v (a panic that never passed a Guard).
func Reason(r any) string {
	if c, ok := r.(*Crash); ok {
		return c.Reason
	}
	return fmt.Sprint(r)
}
