package deadline

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	minMargin = time.Millisecond
	maxMargin = 50 * time.Millisecond
)

// Margin is the time a hop keeps for replying: a tenth of what remains,
// between 1 ms and 50 ms.
func Margin(remaining time.Duration) time.Duration {
	return min(max(remaining/10, minMargin), maxMargin)
}

// Reserve is the time a hop that must still act on its answers (roll back a
// failed connect, then reply) keeps for that: a fifth of what remains,
// between 1 ms and 1 s.
func Reserve(remaining time.Duration) time.Duration {
	return min(max(remaining/5, minMargin), time.Second)
}

// Inner returns the deadline for the next hop: d less its margin.
func Inner(d time.Time, now time.Time) time.Time {
	return d.Add(-Margin(d.Sub(now)))
}

// FromMessage returns the deadline a message carries, or now+fallback when it
// carries none.
func FromMessage(ts *timestamppb.Timestamp, now time.Time, fallback time.Duration) time.Time {
	if ts == nil || !ts.IsValid() {
		return now.Add(fallback)
	}
	return ts.AsTime()
}

// FromContext returns ctx's deadline, or now+fallback when it has none.
func FromContext(ctx context.Context, now time.Time, fallback time.Duration) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return now.Add(fallback)
}

// Proto converts a deadline for a message.
func Proto(d time.Time) *timestamppb.Timestamp { return timestamppb.New(d) }

// Invalid reports a request carrying a deadline that is no point in time
// (nanos out of range, before year 1 or after 9999): it must be refused,
// not read as "no deadline".
func Invalid(msg any) bool {
	m, ok := msg.(interface{ GetDeadline() *timestamppb.Timestamp })
	if !ok {
		return false
	}
	ts := m.GetDeadline()
	return ts != nil && !ts.IsValid()
}
