package drain

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Replies held for another actor's go out once it is done, in order, and
// later ones at once; a drain switched off answers nothing.
func TestDrainHoldsReplies(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sys := actor.NewActorSystem()
	got := make(chan any, 8)
	to := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if s, ok := c.Message().(string); ok {
			got <- s
		}
	}))
	d := New(func(req any) any {
		if n, ok := req.(int); ok {
			return "refused " + string(rune('0'+n))
		}
		return nil
	})
	left := func(n int) { d.MessageReceived(&actor.MessageEnvelope{Message: n, Sender: to}) }

	left(0) // not switched on: no answer
	after := make(chan struct{})
	d.Stopped(sys, after)
	left(1)
	left(2)
	d.MessageReceived(&actor.MessageEnvelope{Message: "not a request", Sender: to})
	select {
	case r := <-got:
		t.Fatalf("%v before the other actor was done", r)
	case <-time.After(50 * time.Millisecond): // nothing may come: a bounded look
	}
	close(after)
	left(3)
	for _, want := range []string{"refused 1", "refused 2", "refused 3"} {
		select {
		case r := <-got:
			require.Equal(t, want, r)
		case <-time.After(10 * time.Second):
			t.Fatalf("waited for %q", want)
		}
	}
	d.Started()
	left(4)
	require.NoError(t, sys.Root.StopFuture(to).Wait())
	require.Empty(t, got, "a drain switched off answers nothing")
}
