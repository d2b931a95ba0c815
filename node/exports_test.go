package node

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
)

func TestExportsAreScopedToPeers(t *testing.T) {
	sys := actor.NewActorSystem()
	var x exports
	x.add(sys, "dbactor", exportRegistry, false, "")
	x.add(sys, "dbactor-client$1", exportActor, true, "10.0.0.5:8090")
	x.add(sys, "cb", exportActor, false, "10.0.0.5:8090")
	x.add(sys, "cb", exportActor, false, "10.0.0.6:8090")

	require.Equal(t, exportRegistry, x.lookup("dbactor", "anyone:1"))
	require.Equal(t, exportNone, x.lookup("dbactor/supervisor", "anyone:1"), "no subtree: not its children")
	require.Equal(t, exportActor, x.lookup("dbactor-client$1", "10.0.0.5:8090"))
	require.Equal(t, exportActor, x.lookup("dbactor-client$1/$2", "10.0.0.5:8090"), "subtree")
	require.Equal(t, exportNone, x.lookup("dbactor-client$1/$2", "10.6.6.6:1"), "only the registry's node")
	require.Equal(t, exportNone, x.lookup("dbactor-client$1", "10.6.6.6:1"))
	require.Equal(t, exportActor, x.lookup("cb", "10.0.0.6:8090"), "handed to two registries")
	require.Equal(t, exportNone, x.lookup("nope", "10.0.0.5:8090"))

	x.add(sys, "cb", exportActor, false, "") // exported to every peer by hand
	require.Equal(t, exportActor, x.lookup("cb", "10.6.6.6:1"))

	// A subtree at any depth.
	x.add(sys, "user/deep", exportActor, true, "")
	require.Equal(t, exportActor, x.lookup("user/deep/a/b", "x:1"))
	require.Equal(t, exportNone, x.lookup("user/other", "x:1"))
	require.Equal(t, exportNone, x.lookup("user", "x:1"))
}

func TestWatchesAreBoundedAndUndone(t *testing.T) {
	var ws watches
	ws.open("a:1")
	ws.open("a:1") // a second stream of the same peer
	for i := range 3 {
		require.True(t, ws.add("a:1", watch{target: "dbactor", watcher: string(rune('a' + i))}, 3))
	}
	require.True(t, ws.add("a:1", watch{target: "dbactor", watcher: "a"}, 3), "the same watch again")
	require.False(t, ws.add("a:1", watch{target: "dbactor", watcher: "z"}, 3), "a fourth")
	ws.remove("a:1", watch{target: "dbactor", watcher: "a"})
	require.True(t, ws.add("a:1", watch{target: "dbactor", watcher: "z"}, 3), "room again")
	require.Empty(t, ws.close("a:1"), "its other stream is still open")
	require.Len(t, ws.close("a:1"), 3, "its last stream ended: undo them")
	require.Empty(t, ws.by)
	require.Empty(t, ws.streams)
}
