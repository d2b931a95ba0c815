package request_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

type echo struct{}

func (echo) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case string:
		c.Respond("re: " + m)
	case int: // never answers
	}
}

func system(t *testing.T) (*actor.ActorSystem, *actor.PID) {
	sys := testdb.ActorSystem(t)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echo{} }))
	t.Cleanup(func() {
		_ = request.WaitStopped(context.Background(), sys, pid, false)
	})
	return sys, pid
}

func TestRequestReply(t *testing.T) {
	sys, pid := system(t)
	reply, err := request.Request(context.Background(), sys, pid, "hi", time.Second)
	require.NoError(t, err)
	require.Equal(t, "re: hi", reply)
}

func TestRequestTimeoutWithoutDeadline(t *testing.T) {
	sys, pid := system(t)
	_, err := request.Request(context.Background(), sys, pid, 1, 50*time.Millisecond)
	require.ErrorIs(t, err, request.ErrTimeout)
}

func TestRequestContextWins(t *testing.T) {
	sys, pid := system(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := request.Request(ctx, sys, pid, "hi", time.Second)
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = request.Request(ctx, sys, pid, 1, time.Hour)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRequestToMissingActor(t *testing.T) {
	sys, _ := system(t)
	start := time.Now()
	_, err := request.Request(context.Background(), sys, actor.NewPID(sys.Address(), "nobody"), "hi", 10*time.Second)
	require.ErrorIs(t, err, request.ErrNoActor)
	require.Less(t, time.Since(start), 5*time.Second, "dead letters answer at once")
}

// A reply that comes after the caller gave up goes to late, and the request
// is over (over runs) only once late has returned.
func TestLateReplyGoesToLate(t *testing.T) {
	sys := testdb.ActorSystem(t)
	release := make(chan struct{})
	pid := holder(t, sys, release)

	lateGot := make(chan any, 1)
	over := make(chan struct{})
	p := request.Send(sys, pid, "x", func(reply any) { lateGot <- reply }, func() { close(over) })
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := p.Wait(short, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case <-over:
		t.Fatal("over before the late reply")
	default:
	}
	close(release)
	require.Equal(t, "re: x", <-lateGot)
	<-over
}

// Without late, giving up ends the request at once; a reply that comes
// later is dropped.
func TestGiveUpWithoutLate(t *testing.T) {
	sys, pid := system(t)
	over := make(chan struct{})
	p := request.Send(sys, pid, 1, nil, func() { close(over) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Wait(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	<-over
}

// A reply already there when ctx ends wins over ctx.
func TestReplyWinsOverEndedContext(t *testing.T) {
	sys, pid := system(t)
	p := request.Send(sys, pid, "hi", nil, nil)
	reply, err := p.Wait(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, "re: hi", reply)
}

// A closed lost channel ends the wait with ErrNodeLost; a late reply is
// still handed to late.
func TestLostNode(t *testing.T) {
	sys := testdb.ActorSystem(t)
	release := make(chan struct{})
	pid := holder(t, sys, release)
	lost := make(chan struct{})
	close(lost)
	lateGot := make(chan any, 1)
	_, err := request.Send(sys, pid, "x", func(r any) { lateGot <- r }, nil).Wait(context.Background(), lost)
	require.ErrorIs(t, err, request.ErrNodeLost)
	require.ErrorIs(t, request.Err(err), messages.ErrUnavailable)
	close(release)
	require.Equal(t, "re: x", <-lateGot)
}

func TestErrClassifies(t *testing.T) {
	require.NoError(t, request.Err(nil))
	require.ErrorIs(t, request.Err(request.ErrNoActor), messages.ErrClosed)
	require.ErrorIs(t, request.Err(context.Canceled), messages.ErrCanceled)
	require.ErrorIs(t, request.Err(context.DeadlineExceeded), messages.ErrTimeout)
	require.ErrorIs(t, request.Err(request.ErrTimeout), messages.ErrTimeout)
	other := errors.New("other")
	require.Equal(t, other, request.Err(other))
}

// The gate refuses calls once shut, and Shut waits for a call in flight.
func TestGate(t *testing.T) {
	var g request.Gate
	require.NoError(t, g.Enter())
	shut := make(chan error, 1)
	go func() { _, err := g.Shut(context.Background()); shut <- err }()
	select {
	case <-shut:
		t.Fatal("Shut returned with a call in flight")
	case <-time.After(20 * time.Millisecond):
	}
	g.Leave()
	require.NoError(t, <-shut)
	require.ErrorIs(t, g.Enter(), messages.ErrClosed)
	first, err := g.Shut(context.Background())
	require.NoError(t, err)
	require.False(t, first)
}

func TestWaitStopped(t *testing.T) {
	sys := testdb.ActorSystem(t)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echo{} }))
	require.NoError(t, request.WaitStopped(context.Background(), sys, pid, true))
	// An actor that is already gone answers the watch with Terminated too.
	require.NoError(t, request.WaitStopped(context.Background(), sys, pid, false))
}

// A caller that gives up long before its deadline still has a late reply
// undone up to that deadline (plus LateGrace): the target may act on the
// request until then.
func TestLateReplyAwaitedUntilTheDeadline(t *testing.T) {
	sys := testdb.ActorSystem(t)
	release := make(chan struct{})
	pid := holder(t, sys, release)
	lateGot := make(chan any, 1)
	over := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), request.LateGrace+5*time.Second)
	defer cancel()
	p := request.Send(sys, pid, "x", func(reply any) { lateGot <- reply }, func() { close(over) })
	given, giveUp := context.WithCancel(ctx)
	giveUp()
	_, err := p.Wait(given, nil)
	require.ErrorIs(t, err, context.Canceled)
	// Past LateGrace after giving up, but before the deadline.
	time.AfterFunc(request.LateGrace+500*time.Millisecond, func() { close(release) })
	require.Equal(t, "re: x", <-lateGot)
	<-over
}

// A Terminated the Pending did not ask for (a peer may send one) changes
// nothing.
func TestStrayTerminatedIgnored(t *testing.T) {
	sys, pid := system(t)
	p := request.Send(sys, pid, "hi", nil, nil)
	p.SendSystemMessage(nil, &actor.Terminated{Who: pid})
	reply, err := p.Wait(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, "re: hi", reply)
}
