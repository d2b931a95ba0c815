package supervisor

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

// fakeSupervisor records which directive the strategy applied.
type fakeSupervisor struct{ applied []string }

func (f *fakeSupervisor) Children() []*actor.PID            { return nil }
func (f *fakeSupervisor) EscalateFailure(any, any)          { f.applied = append(f.applied, "escalate") }
func (f *fakeSupervisor) RestartChildren(...*actor.PID)     { f.applied = append(f.applied, "restart") }
func (f *fakeSupervisor) StopChildren(...*actor.PID)        { f.applied = append(f.applied, "stop") }
func (f *fakeSupervisor) ResumeChildren(pids ...*actor.PID) { f.applied = append(f.applied, "resume") }

func TestStrategyDirectives(t *testing.T) {
	sys := testdb.ActorSystem(t)
	child := actor.NewPID(sys.Address(), "child")
	for _, tt := range []struct {
		s    *Strategy
		want string
	}{{Restart, "restart"}, {Resume, "resume"}} {
		sup := &fakeSupervisor{}
		for range 20 { // no budget: never a stop, whatever the count
			tt.s.HandleFailure(sys, sup, child, actor.NewRestartStatistics(), "boom", "not a request")
		}
		require.Len(t, sup.applied, 20)
		for _, a := range sup.applied {
			require.Equal(t, tt.want, a)
		}
	}
}

// The sender of the message that crashed an actor gets an error reply of
// the type it waits for, at once.
func TestStrategyAnswersTheCrashedRequest(t *testing.T) {
	sys := testdb.ActorSystem(t)
	got := make(chan any, 1)
	sender := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *messages.ConnectResult, *messages.DisconnectResult, *messages.Status, *messages.DatabaseList, *inproc.SupervisorClosed:
			got <- m
		}
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(sender).Wait() })
	child := actor.NewPID(sys.Address(), "db")
	s := Restart
	for _, req := range []any{&messages.Connect{}, &messages.Disconnect{}, &messages.GetStatus{}, &messages.ListDatabases{}, &inproc.CloseSupervisor{}} {
		s.HandleFailure(sys, &fakeSupervisor{}, child, actor.NewRestartStatistics(), "boom",
			&actor.MessageEnvelope{Message: req, Sender: sender})
		select {
		case reply := <-got:
			var e error
			switch r := reply.(type) {
			case *messages.ConnectResult:
				e = r.GetErrors()[0]
			case *messages.DisconnectResult:
				e = r.GetErrors()[0]
			case *messages.Status:
				e = r.GetError()
			case *messages.DatabaseList:
				e = r.GetError()
			case *inproc.SupervisorClosed:
				e = r.Err
			}
			require.ErrorIs(t, e, messages.ErrInternal, "%T", req)
			require.Contains(t, e.Error(), "boom")
		case <-time.After(10 * time.Second):
			t.Fatalf("no reply for a crashed %T", req)
		}
	}
	require.Nil(t, inproc.FailedReply("not a request", &messages.Error{}))
}
