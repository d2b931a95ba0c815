package crash_test

import (
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/crash"
)

func scrub(s string) string { return strings.ReplaceAll(s, "s3cret", "xxxxx") }

func TestWrap(t *testing.T) {
	c := crash.Wrap("dsn postgres://u:s3cret@h/db", scrub)
	require.Equal(t, "dsn postgres://u:xxxxx@h/db", c.Reason)
	require.Same(t, c, crash.Wrap(c, scrub), "a Crash is not wrapped twice")
	require.Equal(t, c.Reason, crash.Reason(c))
	require.Equal(t, "plain", crash.Reason("plain"))
	require.Equal(t, c.Reason, c.Error())
	require.Equal(t, c.Reason, c.String())
}

func TestGuard(t *testing.T) {
	var reported []string
	guard := crash.Guard(scrub, func(_ actor.ReceiverContext, msg any, c *crash.Crash) {
		reported = append(reported, c.Reason)
	})
	panicking := guard(func(actor.ReceiverContext, *actor.MessageEnvelope) { panic("bad s3cret") })

	// A user message: the scrubbed Crash goes on to the supervisor.
	func() {
		defer func() {
			r := recover()
			c, ok := r.(*crash.Crash)
			require.True(t, ok, "%T", r)
			require.Equal(t, "bad xxxxx", c.Reason)
		}()
		panicking(nil, actor.WrapEnvelope("request"))
	}()
	require.Empty(t, reported)

	// Lifecycle messages: reported, not handed on.
	for _, msg := range []any{&actor.Started{}, &actor.Restarting{}, &actor.Stopping{}, &actor.Stopped{}} {
		require.True(t, crash.Lifecycle(msg))
		require.NotPanics(t, func() { panicking(nil, actor.WrapEnvelope(msg)) })
	}
	require.Equal(t, []string{"bad xxxxx", "bad xxxxx", "bad xxxxx", "bad xxxxx"}, reported)
	require.False(t, crash.Lifecycle("request"))

	calm := guard(func(actor.ReceiverContext, *actor.MessageEnvelope) {})
	require.NotPanics(t, func() { calm(nil, actor.WrapEnvelope("request")) })
}
