package node_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/registry"
)

// A program that only attaches to registries on other nodes — a client
// node (node.StartClient, Attach, ClusterClient) and package client —
// links neither pgx nor SQLite, nor the packages that host registries.
func TestLinksNoDriver(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	out, err := exec.Command(goBin, "list", "-deps", "github.com/dbactor/dbactor/node").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/dbactor/dbactor/client", "the list is node's dependencies")
	for _, dep := range deps {
		require.NotContains(t, dep, "jackc/pgx", "node links %s", dep)
		require.NotContains(t, dep, "modernc.org", "node links %s", dep)
		for _, host := range []string{"registry", "actors", "supervisor", "internal/regactor", "node/dbnode"} {
			require.NotEqual(t, "github.com/dbactor/dbactor/"+host, dep, "node links %s", dep)
		}
	}
}

// A node accepts from a peer what a client sends at most, which is what a
// database actor puts in one query result at most.
func TestMaxRequestSizeMatches(t *testing.T) {
	require.Equal(t, client.MaxRequest, node.DefaultMaxRequestSize)
	require.EqualValues(t, actors.MaxBytesLimit, node.DefaultMaxRequestSize)
}

// A MaxRequestSize above the most a batch allows is refused before the
// node listens, with the registry's (the protocol's) sentinel.
func TestStartClientRefusesOversizeRequests(t *testing.T) {
	n, err := node.StartClient(node.Config{MaxRequestSize: node.DefaultMaxRequestSize + 1})
	require.ErrorIs(t, err, messages.ErrInvalidConfig)
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	require.Nil(t, n)
}
