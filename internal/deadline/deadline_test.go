package deadline

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMargin(t *testing.T) {
	for _, tt := range []struct{ remaining, want time.Duration }{
		{0, time.Millisecond},
		{-time.Second, time.Millisecond},
		{5 * time.Millisecond, time.Millisecond},
		{100 * time.Millisecond, 10 * time.Millisecond},
		{time.Second, 50 * time.Millisecond},
		{time.Hour, 50 * time.Millisecond},
	} {
		require.Equal(t, tt.want, Margin(tt.remaining), "remaining %v", tt.remaining)
	}
}

func TestInnerIsEarlier(t *testing.T) {
	now := time.Now()
	d := now.Add(time.Second)
	require.Equal(t, d.Add(-50*time.Millisecond), Inner(d, now))
	require.True(t, Inner(now, now).Before(now), "an expired deadline stays expired")
}

func TestFrom(t *testing.T) {
	now := time.Now()
	require.Equal(t, now.Add(time.Minute), FromMessage(nil, now, time.Minute))
	d := now.Add(3 * time.Second).Round(0)
	require.True(t, FromMessage(Proto(d), now, time.Minute).Equal(d))
	require.Equal(t, now.Add(time.Minute), FromContext(context.Background(), now, time.Minute))
	ctx, cancel := context.WithDeadline(context.Background(), d)
	defer cancel()
	require.True(t, FromContext(ctx, now, time.Minute).Equal(d))
}
