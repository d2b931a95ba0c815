package supervisor

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/plumbing"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

func newState(t *testing.T, name, url string) *actors.State {
	t.Helper()
	s, err := actors.NewState(name, url, actors.StateOptions{})
	require.NoError(t, err)
	return s
}

func askSup(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, msg any) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := request.Request(ctx, sys, pid, msg, 0)
	require.NoError(t, err)
	return reply
}

// spawnSup starts a supervisor of members and closes it when the test
// ends, after those spawned later (their cleanups run first).
func spawnSup(t *testing.T, sys *actor.ActorSystem, members []Member, opts Options) *actor.PID {
	t.Helper()
	return spawnProps(t, sys, members, Props(members, opts))
}

// spawnRegistrySup is spawnSup for a registry's supervisor, with its hooks.
func spawnRegistrySup(t *testing.T, sys *actor.ActorSystem, members []Member, opts Options, hooks plumbing.SupervisorHooks) *actor.PID {
	t.Helper()
	return spawnProps(t, sys, members, plumbing.SupervisorProps(members, opts, hooks))
}

func spawnProps(t *testing.T, sys *actor.ActorSystem, members []Member, props *actor.Props) *actor.PID {
	t.Helper()
	pid := sys.Root.Spawn(props)
	t.Cleanup(func() {
		r := askSup(t, sys, pid, &inproc.CloseSupervisor{}).(*inproc.SupervisorClosed)
		require.NoError(t, r.Err)
		require.NoError(t, sys.Root.StopFuture(pid).Wait())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, mb := range members {
			if mb.Owned {
				mb.State.Shutdown()
				require.NoError(t, mb.State.WaitClosed(ctx))
			}
		}
	})
	return pid
}

func replyErr(t *testing.T, reply any) *messages.Error {
	t.Helper()
	switch r := reply.(type) {
	case *messages.QueryResult:
		return r.GetError()
	case *messages.ExecResult:
		return r.GetError()
	case *messages.ConnectResult:
		if len(r.GetErrors()) > 0 {
			return r.GetErrors()[0]
		}
		return nil
	case *messages.DisconnectResult:
		if len(r.GetErrors()) > 0 {
			return r.GetErrors()[0]
		}
		return nil
	}
	t.Fatalf("unexpected reply %T", reply)
	return nil
}

// A PeerStatement to a database shared from another registry keeps its
// grant on the way: a read-only peer cannot write there either.
func TestPeerStatementToSharedDatabase(t *testing.T) {
	for _, d := range []struct{ name, url string }{
		{"sqlite", "sqlite:///" + filepath.Join(t.TempDir(), "x.db")},
		{"postgres", ""},
	} {
		t.Run(d.name, func(t *testing.T) {
			url := d.url
			if url == "" {
				url = testdb.NewPostgresDatabase(t)
			}
			sys := testdb.ActorSystem(t)
			x := newState(t, "", url) // the owner's main database
			owner := spawnSup(t, sys, []Member{{Name: "", State: x, Owned: true}}, Options{})
			y := newState(t, "", "sqlite:///"+filepath.Join(t.TempDir(), "y.db"))
			user := spawnSup(t, sys, []Member{{Name: "", State: y, Owned: true}, {Name: "shared", State: x}}, Options{})
			require.Nil(t, replyErr(t, askSup(t, sys, owner, &messages.Connect{})))
			require.Nil(t, replyErr(t, askSup(t, sys, user, &messages.Connect{})))

			shared := &messages.Target{Database: "shared"}
			require.Nil(t, replyErr(t, askSup(t, sys, user, &messages.Exec{Target: shared, Sql: "CREATE TABLE t (n INTEGER)"})))
			require.Nil(t, replyErr(t, askSup(t, sys, user, &inproc.PeerStatement{Peer: "p", Write: true,
				Request: &messages.Exec{Target: shared, Sql: "INSERT INTO t VALUES (1)"}})))

			for _, req := range []proto.Message{
				&messages.Exec{Target: shared, Sql: "DELETE FROM t"},
				&messages.Query{Target: shared, Sql: "DELETE FROM t RETURNING n"},
				&messages.Exec{Target: shared, Sql: "SELECT 1; DELETE FROM t"},
			} {
				e := replyErr(t, askSup(t, sys, user, &inproc.PeerStatement{Peer: "p", Request: req}))
				require.NotNil(t, e, "%v", req)
				require.Equal(t, "shared", e.GetDatabase(), "relabelled")
			}
			r := askSup(t, sys, user, &inproc.PeerStatement{Peer: "p", Request: &messages.Query{Target: shared, Sql: "SELECT n FROM t"}}).(*messages.QueryResult)
			require.Nil(t, r.GetError())
			require.EqualValues(t, 1, r.GetRows()[0].GetValues()[0].GetInt())

			// Refusals come back in the Request's reply type.
			r = askSup(t, sys, user, &inproc.PeerStatement{Peer: "p", Request: &messages.Query{Target: &messages.Target{Database: "nope"}, Sql: "SELECT 1"}}).(*messages.QueryResult)
			require.ErrorIs(t, r.GetError(), messages.ErrUnknownDatabase)
			c := askSup(t, sys, user, &inproc.PeerStatement{Peer: "p", Request: &messages.Connect{}}).(*messages.ConnectResult)
			require.ErrorIs(t, c.GetErrors()[0], messages.ErrInvalidArgument)

			require.Nil(t, replyErr(t, askSup(t, sys, user, &messages.Disconnect{})))
			require.Nil(t, replyErr(t, askSup(t, sys, owner, &messages.Disconnect{})))
		})
	}
}

func TestWithDeadlineKeepsPeerStatement(t *testing.T) {
	d := time.Now().Add(time.Minute)
	args := []*messages.Value{sqlvalue.Int(1)}
	for _, req := range []proto.Message{
		&messages.Query{Target: &messages.Target{Database: "x"}, Sql: "SELECT $1", Args: args, MaxRows: 3, MaxBytes: 4},
		&messages.Exec{Target: &messages.Target{Database: "x"}, Sql: "SELECT $1", Args: args},
	} {
		out, ok := withDeadline(&inproc.PeerStatement{Request: req, Peer: "p", Write: true, Role: "r"}, d).(*inproc.PeerStatement)
		require.True(t, ok)
		require.Equal(t, "p", out.Peer)
		require.True(t, out.Write)
		require.Equal(t, "r", out.Role)
		require.Equal(t, d.UnixNano(), out.GetDeadline().AsTime().UnixNano())
		require.Nil(t, out.Request.(interface{ GetTarget() *messages.Target }).GetTarget(), "addressed to the database actor itself")
		require.NotSame(t, req, out.Request)
	}
	require.IsType(t, &messages.QueryResult{}, inproc.FailedReply(&inproc.PeerStatement{Request: &messages.Query{}}, &messages.Error{}))
	require.IsType(t, &messages.ExecResult{}, inproc.FailedReply(&inproc.PeerStatement{Request: &messages.Exec{}}, &messages.Error{}))
}

// A request whose deadline has passed before it reached a database actor
// is answered so, on every path, and nothing is done.
func TestExpiredOnArrival(t *testing.T) {
	sys := testdb.ActorSystem(t)
	var mu sync.Mutex
	var answered []any
	opts, hooks := Options{}, plumbing.SupervisorHooks{Answered: func(_, reply any) {
		mu.Lock()
		answered = append(answered, reply)
		mu.Unlock()
	}}
	x := newState(t, "", "sqlite:///"+filepath.Join(t.TempDir(), "x.db"))
	single := spawnRegistrySup(t, sys, []Member{{Name: "", State: x, Owned: true}}, opts, hooks) // direct relay
	y := newState(t, "", "sqlite:///"+filepath.Join(t.TempDir(), "y.db"))
	z := newState(t, "z", "sqlite:///"+filepath.Join(t.TempDir(), "z.db"))
	fan := spawnRegistrySup(t, sys, []Member{{Name: "", State: y, Owned: true}, {Name: "z", State: z, Owned: true}, {Name: "shared", State: x}}, opts, hooks)

	past := deadline.Proto(time.Now().Add(-time.Hour))
	shared := &messages.Target{Database: "shared"}
	for _, tc := range []struct {
		pid *actor.PID
		req any
	}{
		{single, &messages.Connect{Deadline: past}},
		{single, &messages.Disconnect{Deadline: past}},
		{fan, &messages.Connect{Deadline: past}},
		{fan, &messages.Disconnect{Deadline: past}},
		{fan, &messages.Connect{Target: shared, Deadline: past}},
		{fan, &messages.Connect{Target: &messages.Target{Database: "z"}, Deadline: past}},
		{fan, &messages.Query{Target: shared, Sql: "SELECT 1", Deadline: past}},
		{fan, &messages.Exec{Sql: "SELECT 1", Deadline: past}},
		{fan, &inproc.PeerStatement{Peer: "p", Request: &messages.Query{Target: shared, Sql: "SELECT 1", Deadline: past}}},
	} {
		e := replyErr(t, askSup(t, sys, tc.pid, tc.req))
		require.NotNil(t, e, "%T", tc.req)
		require.ErrorIs(t, e, messages.ErrTimeout)
		require.Equal(t, "deadline passed before the request reached the database actor: nothing was done", e.GetMessage(), "%T", tc.req)
	}
	for _, s := range []*actors.State{x, y, z} {
		require.False(t, s.Connected())
		require.Zero(t, s.RefCount())
	}
	mu.Lock()
	require.Len(t, answered, 4, "every registry-wide request is reported to Answered")
	mu.Unlock()
}
