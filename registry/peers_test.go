package registry_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/peer"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// What a node's trust boundary stamps on a peer's envelope is all the
// registry knows of the peer: these tests stamp it by hand (package node
// and tests/security test the boundary itself).

// sendAs sends msg to the registry as the peer p would reach it through a
// node, and returns the reply.
func sendAs(t *testing.T, reg *registry.Registry, p peer.Peer, msg any) any {
	t.Helper()
	sys := reg.System()
	f := actor.NewFuture(sys, 20*time.Second)
	sys.Root.Send(reg.PID(), &actor.MessageEnvelope{Header: p.Header(), Message: msg, Sender: f.PID()})
	reply, err := f.Result()
	require.NoError(t, err)
	return reply
}

// A peer's Connect is tracked to the peer, with a sender or without one
// (a bare Send): no count of another node outlives it. Here the peer's
// node is unknown to this actor system, so its end is seen at once
// (not_found) and the count comes straight back.
func TestPeerConnectIsAlwaysTracked(t *testing.T) {
	reg, released := trackedRegistry(t)
	p := peer.Peer{Identity: "alice", Address: "127.0.0.1:1"}

	r := sendAs(t, reg, p, &messages.Connect{}).(*messages.ConnectResult)
	require.Empty(t, r.GetErrors())
	ev := waitReleased(t, released)
	require.Equal(t, p.Address, ev.GetAddress())
	require.Nil(t, ev.GetCaller(), "keyed by the peer's node")
	require.EqualValues(t, 1, ev.GetConnects())
	requireCount(t, reg.Database(), 0, false)

	// Without a sender (nothing to reply to), the same.
	reg.System().Root.Send(reg.PID(), &actor.MessageEnvelope{Header: p.Header(), Message: &messages.Connect{}})
	ev = waitReleased(t, released)
	require.Equal(t, p.Address, ev.GetAddress())
	requireCount(t, reg.Database(), 0, false)
}

// A peer may name only actors of its own node as owner or callback: not
// another node's (it would give back that node's counts, or make this
// node dial anywhere), not this node's own registry.
func TestPeerNamesOnlyItsOwnActors(t *testing.T) {
	reg, _ := trackedRegistry(t)
	sys := reg.System()
	p := peer.Peer{Identity: "mallory", Address: "127.0.0.1:2"}
	victim, own := owner(t, sys)
	require.Empty(t, send(t, reg, &messages.Connect{Owner: own}).(*messages.ConnectResult).GetErrors())

	for _, pid := range []*messages.Pid{own, {Id: reg.PID().GetId()}, {Address: "10.9.9.9:22", Id: "x"}} {
		r := sendAs(t, reg, p, &messages.Disconnect{Owner: pid}).(*messages.DisconnectResult)
		require.ErrorIs(t, replyError(r), client.ErrPermissionDenied, "%v", pid)
		r2 := sendAs(t, reg, p, &messages.Connect{Owner: pid}).(*messages.ConnectResult)
		require.ErrorIs(t, replyError(r2), client.ErrPermissionDenied, "%v", pid)
		cb := sendAs(t, reg, p, &messages.RegisterCallback{Callback: pid}).(*messages.CallbackResult)
		require.ErrorIs(t, replyError(cb), client.ErrPermissionDenied, "%v", pid)
	}
	requireCount(t, reg.Database(), 1, true)

	// Its own node's activator is no owner (its end would release the
	// node's holder, not this one's), nor an id the registry would keep
	// however long.
	mine := peer.Peer{Identity: "alice", Address: "127.0.0.1:5"}
	for _, pid := range []*messages.Pid{{Address: mine.Address, Id: "activator"}, {Address: mine.Address, Id: strings.Repeat("x", 300)}} {
		r := sendAs(t, reg, mine, &messages.Connect{Owner: pid}).(*messages.ConnectResult)
		require.ErrorIs(t, replyError(r), messages.ErrInvalidArgument)
		cb := sendAs(t, reg, mine, &messages.RegisterCallback{Callback: pid}).(*messages.CallbackResult)
		require.ErrorIs(t, replyError(cb), messages.ErrInvalidArgument)
	}
	requireCount(t, reg.Database(), 1, true)
	require.NoError(t, request.WaitStopped(testCtx(t), sys, victim, false))
}

// Past a peer's limits a request is refused with ErrQuotaExceeded and
// changes nothing; giving back makes room again. Another peer, and local
// callers, are not limited by it.
func TestPeerLimits(t *testing.T) {
	dir := t.TempDir()
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: "sqlite:///" + filepath.Join(dir, "main.db"),
		Peers: registry.PeerLimits{Counts: 3, Owners: 2, Callbacks: 2}})
	// The peer is this actor system, seen as a node: its owners and
	// callbacks are real local actors.
	p := peer.Peer{Identity: "alice", Address: sys.Address()}
	_, a := owner(t, sys)
	_, b := owner(t, sys)
	_, c := owner(t, sys)

	for _, o := range []*messages.Pid{a, a, b} {
		require.Empty(t, sendAs(t, reg, p, &messages.Connect{Owner: o}).(*messages.ConnectResult).GetErrors())
	}
	r := sendAs(t, reg, p, &messages.Connect{Owner: b}).(*messages.ConnectResult)
	require.ErrorIs(t, replyError(r), client.ErrQuotaExceeded, "a fourth count")
	r = sendAs(t, reg, p, &messages.Connect{Owner: c}).(*messages.ConnectResult)
	require.ErrorIs(t, replyError(r), client.ErrQuotaExceeded, "a third owner")
	requireCount(t, reg.Database(), 3, true)

	other := peer.Peer{Identity: "bob", Address: sys.Address()}
	_, d := owner(t, sys)
	require.Empty(t, sendAs(t, reg, other, &messages.Connect{Owner: d}).(*messages.ConnectResult).GetErrors(), "bob has his own limits")
	require.NoError(t, reg.Connect(testCtx(t)), "local callers are not limited")
	requireCount(t, reg.Database(), 5, true)

	require.Empty(t, sendAs(t, reg, p, &messages.Disconnect{Owner: a}).(*messages.DisconnectResult).GetErrors())
	require.Empty(t, sendAs(t, reg, p, &messages.Connect{Owner: b}).(*messages.ConnectResult).GetErrors(), "room again")

	for i, o := range []*messages.Pid{a, b, a} {
		res := sendAs(t, reg, p, &messages.RegisterCallback{Callback: o, Mode: messages.CallbackMode_CALLBACK_MODE_PERSISTENT}).(*messages.CallbackResult)
		if i < 2 {
			require.Nil(t, res.GetError())
			require.True(t, res.GetStored())
		} else {
			require.ErrorIs(t, replyError(res), client.ErrQuotaExceeded, "a third callback")
		}
	}
	res := sendAs(t, reg, other, &messages.RegisterCallback{Callback: d, Mode: messages.CallbackMode_CALLBACK_MODE_PERSISTENT}).(*messages.CallbackResult)
	require.Nil(t, res.GetError())
}

// A tracked Connect that waits for a force under way goes on as the
// peer's, not as a local caller's: the header comes back with it.
func TestWaitingPeerConnectStaysThePeers(t *testing.T) {
	reg, released := trackedRegistry(t)
	sys := reg.System()
	p := peer.Peer{Identity: "alice", Address: "127.0.0.1:3"}
	for range 50 {
		force := request.Send(sys, reg.PID(), &messages.Disconnect{Force: true}, nil, nil)
		f := actor.NewFuture(sys, 20*time.Second)
		sys.Root.Send(reg.PID(), &actor.MessageEnvelope{Header: p.Header(), Message: &messages.Connect{}, Sender: f.PID()})
		_, err := force.Wait(testCtx(t), nil)
		require.NoError(t, err)
		force.Close()
		r, err := f.Result()
		require.NoError(t, err)
		require.Empty(t, r.(*messages.ConnectResult).GetErrors())
		// The peer's node is unknown here: gone at once, its count back.
		ev := waitReleased(t, released)
		require.Equal(t, p.Address, ev.GetAddress())
		requireCount(t, reg.Database(), 0, false)
	}
}

// D2: an all-zero DropSchema is refused by the registry actor itself, as
// the facade refuses it, from a peer or not: it would drop every
// registered model's table.
func TestEmptyDropSchemaIsRefused(t *testing.T) {
	reg, _ := trackedRegistry(t)
	type Item struct {
		ID int64 `db:"id,pk"`
	}
	_, err := reg.RegisterModel(testCtx(t), Item{})
	require.NoError(t, err)
	require.NoError(t, reg.CreateAll(testCtx(t)))
	for _, msg := range []any{&messages.DropSchema{}, &messages.DropSchema{Cascade: true, IfExists: true, Databases: []string{"", "audit"}}} {
		res := send(t, reg, msg).(*messages.SchemaResult)
		require.ErrorIs(t, replyError(res), messages.ErrInvalidArgument)
		res = sendAs(t, reg, peer.Peer{Identity: "x", Address: "127.0.0.1:4"}, msg).(*messages.SchemaResult)
		require.ErrorIs(t, replyError(res), messages.ErrInvalidArgument)
	}
	require.NoError(t, reg.Database().Run(testCtx(t), func(ctx context.Context, q actors.Querier) error {
		_, err := q.ExecContext(ctx, "SELECT count(*) FROM items")
		return err
	}), "the table survives")
}

// A peer the node trusts as its own (a cluster member) is tracked like
// any peer, but not limited.
func TestTrustedPeerIsTrackedNotLimited(t *testing.T) {
	released := make(chan *messages.CallerReleased, 8)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: "sqlite:///" + filepath.Join(t.TempDir(), "main.db"),
		Peers: registry.PeerLimits{Counts: 1, Owners: 1}},
		registry.WithEventHook(func(ev messages.Event) {
			if r, ok := ev.(*messages.CallerReleased); ok {
				released <- r
			}
		}))
	p := peer.Peer{Identity: "member-2", Address: sys.Address(), Trusted: true, Write: true}
	pid, a := owner(t, sys)
	_, b := owner(t, sys)
	for _, o := range []*messages.Pid{a, a, b} {
		require.Empty(t, sendAs(t, reg, p, &messages.Connect{Owner: o}).(*messages.ConnectResult).GetErrors())
	}
	requireCount(t, reg.Database(), 3, true)
	require.NoError(t, request.WaitStopped(testCtx(t), sys, pid, false))
	ev := waitReleased(t, released)
	require.EqualValues(t, 2, ev.GetConnects(), "tracked to its owner all the same")
	requireCount(t, reg.Database(), 1, true)
}
