package node_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/registry"
)

// A program that only attaches to registries on other nodes — a client
// node (node.StartClient, Attach, ClusterClient) and package client —
// links neither pgx nor SQLite, nor the packages that host registries.
func TestLinksNoDriver(t *testing.T) {
	testdb.NoDatabaseDeps(t, "github.com/dbactor/dbactor/node",
		"registry", "actors", "supervisor", "internal/regactor", "node/dbnode")
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
