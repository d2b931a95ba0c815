package actors_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// spawn starts one database actor on a SQLite file, as the supervisor would.
func spawn(t *testing.T, hooks actors.Hooks) (*actor.ActorSystem, *actors.State) {
	t.Helper()
	return spawnAt(t, "sqlite:///"+filepath.Join(t.TempDir(), "a.db"), hooks)
}

// spawnAt starts one database actor on url; cleanup stops it and waits
// for everything it opened to close.
func spawnAt(t *testing.T, url string, hooks actors.Hooks) (*actor.ActorSystem, *actors.State) {
	t.Helper()
	s, err := actors.NewState("a", url, actors.StateOptions{Hooks: hooks})
	require.NoError(t, err)
	sys := testdb.ActorSystem(t)
	pid := sys.Root.Spawn(actors.DatabaseProps(s))
	require.True(t, pid.Equal(s.PID()), "spawning records the PID")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, request.WaitStopped(ctx, sys, pid, false))
		s.Shutdown()
		require.NoError(t, s.WaitClosed(ctx))
	})
	return sys, s
}

func ask(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, msg any) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := request.Request(ctx, sys, pid, msg, 0)
	require.NoError(t, err)
	return reply
}

// A request whose deadline has already passed is refused without acting:
// the caller gave up, and acting could leave a count nobody owns.
func TestExpiredRequestDoesNothing(t *testing.T) {
	t.Parallel()
	sys, s := spawn(t, actors.Hooks{})
	past := deadline.Proto(time.Now().Add(-time.Second))

	r := ask(t, sys, s.PID(), &messages.Connect{Deadline: past}).(*messages.ConnectResult)
	require.Len(t, r.GetErrors(), 1)
	require.ErrorIs(t, r.GetErrors()[0], messages.ErrTimeout)
	require.EqualValues(t, 0, s.RefCount())
	require.False(t, s.Connected())

	r = ask(t, sys, s.PID(), &messages.Connect{}).(*messages.ConnectResult)
	require.Empty(t, r.GetErrors())
	d := ask(t, sys, s.PID(), &messages.Disconnect{Deadline: past}).(*messages.DisconnectResult)
	require.ErrorIs(t, d.GetErrors()[0], messages.ErrTimeout)
	require.EqualValues(t, 1, s.RefCount(), "an expired disconnect must not count down")
}

// A connect that succeeds only after its deadline is undone: count 0, pool
// closed, and the caller hears a timeout.
func TestLateConnectIsUndone(t *testing.T) {
	t.Parallel()
	sys, s := spawn(t, actors.Hooks{OnConnect: func(ctx context.Context) error {
		<-ctx.Done() // the open below then runs past the deadline
		return nil
	}})
	soon := deadline.Proto(time.Now().Add(200 * time.Millisecond))
	r := ask(t, sys, s.PID(), &messages.Connect{Deadline: soon}).(*messages.ConnectResult)
	require.Len(t, r.GetErrors(), 1)
	require.ErrorIs(t, r.GetErrors()[0], messages.ErrTimeout)
	require.ErrorIs(t, r.GetErrors()[0], context.DeadlineExceeded)
	require.EqualValues(t, 0, s.RefCount())
	require.False(t, s.Connected())
}

func TestUnknownMessage(t *testing.T) {
	t.Parallel()
	sys, s := spawn(t, actors.Hooks{})
	// A registry request gets the reply type its sender waits for.
	r := ask(t, sys, s.PID(), &messages.ListDatabases{}).(*messages.DatabaseList)
	require.ErrorIs(t, r.GetError(), messages.ErrInvalidArgument)
	m := ask(t, sys, s.PID(), &messages.RegisterModel{}).(*messages.ModelResult)
	require.ErrorIs(t, m.GetError(), messages.ErrInvalidArgument)
	// Anything else gets a Status carrying the error.
	st := ask(t, sys, s.PID(), &messages.ModelRegistered{}).(*messages.Status)
	require.ErrorIs(t, st.GetError(), messages.ErrInvalidArgument)
	// A test's Panic, on a system with no fault injector (as in
	// production), is one more unknown message: no crash.
	st = ask(t, sys, s.PID(), &faults.Panic{Value: "not here"}).(*messages.Status)
	require.ErrorIs(t, st.GetError(), messages.ErrInvalidArgument)
	require.Contains(t, st.GetError().GetMessage(), "*faults.Panic")
}

// A deadline that is no point in time is refused, not read as "none".
func TestInvalidDeadline(t *testing.T) {
	t.Parallel()
	sys, s := spawn(t, actors.Hooks{})
	r := ask(t, sys, s.PID(), &messages.Connect{Deadline: &timestamppb.Timestamp{Nanos: -1}}).(*messages.ConnectResult)
	require.ErrorIs(t, messages.Join(r.GetErrors()), messages.ErrInvalidArgument)
	require.EqualValues(t, 0, s.RefCount())
}

func TestStatus(t *testing.T) {
	t.Parallel()
	sys, s := spawn(t, actors.Hooks{})
	st := ask(t, sys, s.PID(), &messages.GetStatus{}).(*messages.Status)
	require.Equal(t, "a", st.GetDatabase())
	require.Equal(t, "sqlite", st.GetDialect())
	require.False(t, st.GetConnected())
	ask(t, sys, s.PID(), &messages.Connect{})
	st = ask(t, sys, s.PID(), &messages.GetStatus{}).(*messages.Status)
	require.True(t, st.GetConnected())
	require.EqualValues(t, 1, st.GetRefCount())
}

// Shutdown (the owner's last word) closes what is open whatever the count.
func TestShutdownClosesRegardlessOfCount(t *testing.T) {
	t.Parallel()
	sys, s := spawn(t, actors.Hooks{})
	ask(t, sys, s.PID(), &messages.Connect{})
	ask(t, sys, s.PID(), &messages.Connect{})
	db := s.DB()
	s.Shutdown()
	require.Nil(t, s.DB())
	require.EqualValues(t, 0, s.RefCount())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.WaitClosed(ctx))
	require.Error(t, db.PingContext(ctx))
}

// Close makes the actor a tombstone: pool closed whatever the count, and
// every later request — asked or merely sent — answered CODE_CLOSED without
// effect.
func TestCloseMakesATombstone(t *testing.T) {
	t.Parallel()
	sys, s := spawn(t, actors.Hooks{})
	ask(t, sys, s.PID(), &messages.Connect{})
	ask(t, sys, s.PID(), &messages.Connect{})
	require.IsType(t, &inproc.DatabaseClosed{}, ask(t, sys, s.PID(), &inproc.CloseDatabase{}))
	require.True(t, s.Closed())
	require.False(t, s.Connected())
	require.EqualValues(t, 0, s.RefCount())

	sys.Root.Send(s.PID(), &messages.Connect{}) // no sender: still no effect
	r := ask(t, sys, s.PID(), &messages.Connect{}).(*messages.ConnectResult)
	require.ErrorIs(t, r.GetErrors()[0], messages.ErrClosed)
	st := ask(t, sys, s.PID(), &messages.GetStatus{}).(*messages.Status)
	require.ErrorIs(t, st.GetError(), messages.ErrClosed)
	require.False(t, s.Connected())
	require.EqualValues(t, 0, s.RefCount())
}

// Requests still queued when the actor stops are answered CODE_CLOSED:
// Proto.Actor alone would skip them, unanswered.
func TestStoppedActorAnswersItsQueue(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	sys, s := spawn(t, actors.Hooks{OnConnect: func(context.Context) error {
		close(entered)
		<-release
		return nil
	}})
	connect := sys.Root.RequestFuture(s.PID(), &messages.Connect{}, 20*time.Second)
	<-entered
	queued := sys.Root.RequestFuture(s.PID(), &messages.GetStatus{}, 20*time.Second)
	stopped := sys.Root.StopFuture(s.PID())
	close(release)
	require.NoError(t, stopped.Wait())
	start := time.Now()
	res, err := queued.Result()
	require.NoError(t, err, "the queued request was dropped")
	require.ErrorIs(t, res.(*messages.Status).GetError(), messages.ErrClosed)
	require.Less(t, time.Since(start), 10*time.Second)
	_, err = connect.Result()
	require.NoError(t, err)
}

// A rollback's disconnect (the supervisor undoing a failed connect) is
// answered once the count is 0 and the pool handed to its close, without
// waiting for the close; a plain one waits for it, up to its deadline.
func TestRollbackDisconnectDoesNotWaitForClose(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewPostgresDatabase(t)
	for _, rollback := range []bool{true, false} {
		t.Run(fmt.Sprintf("rollback=%t", rollback), func(t *testing.T) {
			sys, s := spawnAt(t, dsn, actors.Hooks{})
			pid := s.PID()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r := ask(t, sys, pid, &messages.Connect{}).(*messages.ConnectResult)
			require.Empty(t, r.GetErrors())
			held, err := s.Pool().Acquire(ctx) // the pool's close waits for it
			require.NoError(t, err)

			start := time.Now()
			d := ask(t, sys, pid, &messages.Disconnect{Rollback: rollback, Deadline: deadline.Proto(time.Now().Add(500 * time.Millisecond))}).(*messages.DisconnectResult)
			took := time.Since(start)
			require.True(t, d.GetClosed())
			require.EqualValues(t, 0, s.RefCount())
			require.Nil(t, s.Pool(), "handed to its close")
			if rollback {
				require.Empty(t, d.GetErrors())
				require.Less(t, took, 400*time.Millisecond, "answered without waiting for the close")
			} else {
				require.Len(t, d.GetErrors(), 1, "the close did not finish by the deadline")
			}
			held.Release()
			require.NoError(t, s.WaitClosed(ctx))
		})
	}
}

// A connect's connect_timeout counts from when it was dispatched: one that
// waited for its actor is not given longer — up to a tenth of the timeout;
// waiting longer (behind other work) costs it no more. A dispatch time in
// the future counts as now.
func TestConnectTimeoutCountsFromDispatch(t *testing.T) {
	t.Parallel()
	addr := testdb.Blackhole(t)
	sys, s := spawnAt(t, "postgres://postgres@"+addr+"/x?sslmode=disable&connect_timeout=1", actors.Hooks{})
	pid := s.PID()
	for _, tc := range []struct {
		name       string
		dispatched time.Time
		min, max   time.Duration
	}{
		{"dispatched 80ms ago", time.Now().Add(-80 * time.Millisecond), 800 * time.Millisecond, 980 * time.Millisecond},
		{"dispatched 800ms ago", time.Now().Add(-800 * time.Millisecond), 800 * time.Millisecond, 3 * time.Second},
		{"dispatched in the future", time.Now().Add(time.Hour), 900 * time.Millisecond, 3 * time.Second},
	} {
		start := time.Now()
		r := ask(t, sys, pid, &messages.Connect{Dispatched: timestamppb.New(tc.dispatched)}).(*messages.ConnectResult)
		took := time.Since(start)
		require.Len(t, r.GetErrors(), 1, tc.name)
		require.Contains(t, r.GetErrors()[0].GetMessage(), "within connect_timeout 1s", tc.name)
		require.True(t, r.GetErrors()[0].GetTransient(), "no answer may pass by itself")
		require.GreaterOrEqual(t, took, tc.min, tc.name)
		require.Less(t, took, tc.max, tc.name)
	}
}
