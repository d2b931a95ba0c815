package dbnode_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

// TestKilledClientReleasesCounts: a client node that dies holding counts
// (SIGKILL: no Close, no goodbye) gets them given back by the registry,
// which publishes CallerReleased naming it.
func TestKilledClientReleasesCounts(t *testing.T) {
	if !testnode.Isolate(t) {
		return
	}
	dir := t.TempDir()
	events := make(chan *messages.CallerReleased, 4)
	n, err := dbnode.Start(node.Config{}, registry.Config{
		Database: sqliteDSN(dir, "main"),
		Extra:    map[string]string{extraName: sqliteDSN(dir, extraName)},
	}, registry.WithEventHook(func(ev messages.Event) {
		if r, ok := ev.(*messages.CallerReleased); ok {
			events <- r
		}
	}))
	require.NoError(t, err)
	closeNode := closer(t, n)
	ctx := testCtx(t, time.Minute)

	counts := func(wantMain, wantExtra int) {
		t.Helper()
		st, err := n.Registry.Database().Status(ctx)
		require.NoError(t, err)
		require.Equal(t, wantMain, st.RefCount, "main")
		require.Equal(t, wantMain > 0, st.Connected, "main")
		x, err := n.Registry.Extra(extraName)
		require.NoError(t, err)
		st, err = x.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, wantExtra, st.RefCount, extraName)
		require.Equal(t, wantExtra > 0, st.Connected, extraName)
	}

	child := testnode.Start(t, "client", envAddr+"="+n.Address())
	childAddr := child.Expect("HELD ")
	counts(1, 2)

	killed := time.Now()
	child.Kill()
	require.True(t, child.Killed(), "exit: %v", child.ExitError())
	ev := receive(t, events, 30*time.Second, "CallerReleased")
	t.Logf("CallerReleased %v after SIGKILL: %v", time.Since(killed).Round(time.Millisecond), ev)
	require.Equal(t, childAddr, ev.GetAddress())
	require.Equal(t, "address_terminated", ev.GetReason())
	require.Equal(t, childAddr, ev.GetCaller().GetAddress(), "the caller is the client's own actor")
	require.NotEmpty(t, ev.GetCaller().GetId())
	require.EqualValues(t, 1, ev.GetConnects())
	requireDatabaseCounts(t, ev, map[string]int64{extraName: 1})
	require.Empty(t, ev.GetErrors())
	counts(0, 0)

	// Nothing more is given back.
	select {
	case ev := <-events:
		t.Fatalf("a second CallerReleased: %v", ev)
	default:
	}

	// The dead client's actor watched the registry: closing the node must
	// not tell it (a message to a dead node makes Proto.Actor's remote dial
	// it 5 times, 2 s apart, and leak a gRPC connection per try).
	start := time.Now()
	closeNode()
	took := time.Since(start)
	require.Less(t, took, 5*time.Second,
		"closing a database node that outlived a client node: the registry still tells the dead client's actor it stopped (registry/callers.go callerTerminated)")
}
