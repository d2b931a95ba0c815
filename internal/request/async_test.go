package request_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

type outcome struct {
	reply any
	err   error
}

// asker is an actor that asks target when told to, and reports what its
// continuation got (and on which goroutine state: the actor's own).
type asker struct {
	target  *actor.PID
	timeout time.Duration
	refused error
	undone  chan any
	got     chan outcome
	busy    bool // only touched by the actor
}

type ask struct{ msg any }

func (a *asker) Receive(c actor.Context) {
	m, ok := c.Message().(ask)
	if !ok {
		return
	}
	a.busy = true
	request.Async(c, a.target, a.timeout, a.refused, func(*timestamppb.Timestamp) any { return m.msg },
		func(reply any) { a.undone <- reply },
		func(reply any, err error) {
			require.True(nil, a.busy) // runs on the actor, which still has its state
			a.got <- outcome{reply, err}
		})
}

func spawnAsker(t *testing.T, sys *actor.ActorSystem, a *asker) *actor.PID {
	a.undone, a.got = make(chan any, 1), make(chan outcome, 1)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	t.Cleanup(func() { _ = request.WaitStopped(context.Background(), sys, pid, false) })
	return pid
}

// holder answers a string once release is closed.
func holder(t *testing.T, sys *actor.ActorSystem, release <-chan struct{}) *actor.PID {
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if s, ok := c.Message().(string); ok {
			sender, root := c.Sender(), c.ActorSystem().Root
			go func() { <-release; root.Send(sender, "re: "+s) }()
		}
	}))
	t.Cleanup(func() { _ = request.WaitStopped(context.Background(), sys, pid, false) })
	return pid
}

func TestAsyncReply(t *testing.T) {
	sys, target := system(t)
	a := &asker{target: target, timeout: time.Second}
	sys.Root.Send(spawnAsker(t, sys, a), ask{"hi"})
	o := <-a.got
	require.NoError(t, o.err)
	require.Equal(t, "re: hi", o.reply)
}

func TestAsyncRefused(t *testing.T) {
	sys, target := system(t)
	refused := errors.New("bad name")
	a := &asker{target: target, timeout: time.Second, refused: refused}
	sys.Root.Send(spawnAsker(t, sys, a), ask{"hi"})
	require.Equal(t, refused, (<-a.got).err)

	b := &asker{timeout: time.Second} // no target
	sys.Root.Send(spawnAsker(t, sys, b), ask{"hi"})
	require.ErrorIs(t, (<-b.got).err, messages.ErrInvalidArgument)
}

func TestAsyncMissingActor(t *testing.T) {
	sys, _ := system(t)
	a := &asker{target: actor.NewPID(sys.Address(), "nobody"), timeout: time.Second}
	sys.Root.Send(spawnAsker(t, sys, a), ask{"hi"})
	require.ErrorIs(t, (<-a.got).err, messages.ErrClosed)
}

// A reply after the timeout reached the continuation goes to undo.
func TestAsyncLateReplyUndone(t *testing.T) {
	sys := testdb.ActorSystem(t)
	release := make(chan struct{})
	a := &asker{target: holder(t, sys, release), timeout: 20 * time.Millisecond}
	sys.Root.Send(spawnAsker(t, sys, a), ask{"x"})
	o := <-a.got
	require.ErrorIs(t, o.err, messages.ErrTimeout)
	require.ErrorIs(t, o.err, context.DeadlineExceeded)
	close(release)
	require.Equal(t, "re: x", <-a.undone)
}

// A reply the actor never sees, because it stopped first, goes to undo; the
// continuation does not run.
func TestAsyncActorStoppedUndone(t *testing.T) {
	sys := testdb.ActorSystem(t)
	release := make(chan struct{})
	a := &asker{target: holder(t, sys, release), timeout: time.Minute}
	pid := spawnAsker(t, sys, a)
	sys.Root.Send(pid, ask{"x"})
	// The request is sent once the actor handled ask; stopping waits for it.
	require.NoError(t, request.WaitStopped(context.Background(), sys, pid, true))
	close(release)
	require.Equal(t, "re: x", <-a.undone)
	select {
	case o := <-a.got:
		t.Fatalf("the continuation of a stopped actor ran: %+v", o)
	default:
	}
}

// A refused request is reported as it is, and nothing is sent.
func TestAsyncRefusedNotSent(t *testing.T) {
	sys := testdb.ActorSystem(t)
	release := make(chan struct{})
	defer close(release)
	refused := errors.New("refused")
	a := &asker{target: holder(t, sys, release), timeout: time.Second, refused: refused}
	sys.Root.Send(spawnAsker(t, sys, a), ask{"x"})
	o := <-a.got
	require.Equal(t, refused, o.err)
	require.Nil(t, o.reply)
}

type relayed struct {
	reply any
	err   error
}

func TestRelay(t *testing.T) {
	sys, pid := system(t)
	got := make(chan relayed, 1)
	request.Relay(sys.Root, sys, pid, "hi", time.Second, func(r any, err error) { got <- relayed{r, err} }, nil)
	r := <-got
	require.NoError(t, r.err)
	require.Equal(t, "re: hi", r.reply)

	request.Relay(sys.Root, sys, actor.NewPID(sys.Address(), "nobody"), "hi", time.Second, func(r any, err error) { got <- relayed{r, err} }, nil)
	require.ErrorIs(t, (<-got).err, request.ErrNoActor)
}

// Without a reply in time, finish hears ErrTimeout; the reply that comes
// later goes to late.
func TestRelayTimeoutThenLate(t *testing.T) {
	sys := testdb.ActorSystem(t)
	release := make(chan struct{})
	got := make(chan relayed, 1)
	late := make(chan any, 1)
	request.Relay(sys.Root, sys, holder(t, sys, release), "x", 20*time.Millisecond,
		func(r any, err error) { got <- relayed{r, err} }, func(r any) { late <- r })
	r := <-got
	require.ErrorIs(t, r.err, request.ErrTimeout)
	require.Nil(t, r.reply)
	close(release)
	require.Equal(t, "re: x", <-late)
}
