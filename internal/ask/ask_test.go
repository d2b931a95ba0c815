package ask_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/ask"
	"github.com/dbactor/dbactor/internal/testdb"
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
		_ = ask.WaitStopped(context.Background(), sys, pid, false)
	})
	return sys, pid
}

func TestRequestReply(t *testing.T) {
	sys, pid := system(t)
	reply, err := ask.Request(context.Background(), sys, pid, "hi", time.Second)
	require.NoError(t, err)
	require.Equal(t, "re: hi", reply)
}

func TestRequestTimeoutWithoutDeadline(t *testing.T) {
	sys, pid := system(t)
	_, err := ask.Request(context.Background(), sys, pid, 1, 50*time.Millisecond)
	require.ErrorIs(t, err, ask.ErrTimeout)
}

func TestRequestContextWins(t *testing.T) {
	sys, pid := system(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ask.Request(ctx, sys, pid, "hi", time.Second)
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = ask.Request(ctx, sys, pid, 1, time.Hour)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRequestToMissingActor(t *testing.T) {
	sys, _ := system(t)
	start := time.Now()
	_, err := ask.Request(context.Background(), sys, actor.NewPID(sys.Address(), "nobody"), "hi", 10*time.Second)
	require.ErrorIs(t, err, ask.ErrNoActor)
	require.Less(t, time.Since(start), 5*time.Second, "dead letters answer at once")
}

// Pending keeps waiting for the same reply after a first Wait gave up.
func TestPendingWaitAgain(t *testing.T) {
	sys := testdb.ActorSystem(t)
	release := make(chan struct{})
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(string); ok {
			sender, root := c.Sender(), c.ActorSystem().Root
			go func() { <-release; root.Send(sender, "late") }()
		}
	}))
	defer func() { _ = ask.WaitStopped(context.Background(), sys, pid, false) }()

	p := ask.Send(sys, pid, "x")
	defer p.Close()
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := p.Wait(short)
	require.True(t, errors.Is(err, context.DeadlineExceeded))
	close(release)
	reply, err := p.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, "late", reply)
}

func TestWaitStopped(t *testing.T) {
	sys := testdb.ActorSystem(t)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echo{} }))
	require.NoError(t, ask.WaitStopped(context.Background(), sys, pid, true))
	// An actor that is already gone answers the watch with Terminated too.
	require.NoError(t, ask.WaitStopped(context.Background(), sys, pid, false))
}
