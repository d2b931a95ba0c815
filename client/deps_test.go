package client_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/internal/testdb"
)

// A program that only attaches to a registry on another node links neither
// pgx nor SQLite.
func TestLinksNoDriver(t *testing.T) {
	testdb.NoDatabaseDeps(t, "github.com/dbactor/dbactor/client", "actors")
}

// A client refuses requests larger than a hardened node accepts: the
// database actor's result bound.
func TestMaxRequestMatchesNodes(t *testing.T) {
	require.EqualValues(t, actors.MaxBytesLimit, client.MaxRequest)
}

// One default timeout for every facade (the registry's Config.Timeout
// defaults to client.DefaultTimeout itself).
func TestDefaultTimeoutsAgree(t *testing.T) {
	require.Equal(t, ops.DefaultTimeout, client.DefaultTimeout)
}
