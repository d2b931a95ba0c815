package dbnode_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

// A database node refuses plaintext off loopback before it listens, as a
// client node does (node's TestStartClientRefusesPlaintextOffLoopback).
func TestStartRefusesPlaintextOffLoopback(t *testing.T) {
	for _, cfg := range []node.Config{{Host: "0.0.0.0"}, {Host: "127.0.0.1", AdvertisedHost: "db.example.com:8090"}} {
		n, err := dbnode.Start(cfg, registry.Config{Database: "sqlite:///:memory:"})
		require.ErrorIs(t, err, node.ErrInsecure)
		require.Nil(t, n)
	}
}

// The node's own limits are checked before it listens too, and match the
// registry's sentinel.
func TestStartRefusesOversizeRequests(t *testing.T) {
	n, err := dbnode.Start(node.Config{MaxRequestSize: node.DefaultMaxRequestSize + 1}, registry.Config{Database: "sqlite:///:memory:"})
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	require.Nil(t, n)
}

// TestStartHostsTheRegistry: Start spawns the registry under cfg.Name
// (default node.DefaultName), which clients reach at RegistryPID of the
// node's address; Close closes the registry, then the node.
func TestStartHostsTheRegistry(t *testing.T) {
	for _, name := range []string{"", "inventory"} {
		t.Run(fmt.Sprintf("name %q", name), func(t *testing.T) {
			if !testnode.Isolate(t) {
				return
			}
			n, err := dbnode.Start(node.Config{Name: name, Logger: debugLogger()}, registry.Config{Database: sqliteDSN(t.TempDir(), "main")})
			require.NoError(t, err)
			closeNode := closer(t, n)
			want := name
			if want == "" {
				want = node.DefaultName
			}
			require.Equal(t, want, n.PID().GetId())
			require.True(t, n.PID().Equal(n.Registry.PID()))
			require.True(t, n.PID().Equal(node.RegistryPID(n.Address(), name)), "%v at %s", n.PID(), n.Address())

			ctx := testCtx(t, time.Minute)
			cl, err := n.Attach(n.Address(), name, client.WithCallTimeout(callTimeout))
			require.NoError(t, err)
			require.NoError(t, cl.Connect(ctx))
			st, err := n.Registry.Database().Status(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, st.RefCount, "the client's connect, counted by the node's registry")
			require.NoError(t, cl.Close(ctx))
			require.Eventually(t, func() bool {
				st, err := n.Registry.Database().Status(ctx)
				return err == nil && st.RefCount == 0 && !st.Connected
			}, 10*time.Second, 10*time.Millisecond, "the closed client's count was given back")

			closeNode()
			require.ErrorIs(t, n.Registry.Connect(ctx), registry.ErrClosed, "Close closed the registry")
		})
	}
}

// TestStartFailureLeavesNothingRunning: an invalid registry Config, or a
// port in use, is found once remote has started (or tried to); Start then
// stops it again: the port is free, and no goroutine is left (goleak).
func TestStartFailureLeavesNothingRunning(t *testing.T) {
	t.Run("invalid registry config", func(t *testing.T) {
		if !testnode.Isolate(t) {
			return
		}
		ports, err := testnode.FreePorts(1)
		require.NoError(t, err)
		n, err := dbnode.Start(node.Config{Port: ports[0]}, registry.Config{Database: "nosuchscheme://x"})
		require.ErrorIs(t, err, registry.ErrInvalidConfig)
		require.Nil(t, n)
		// gRPC closes a listener whose Serve goroutine had not started by
		// Stop in that goroutine, just after Stop returns: the port is free
		// within moments, not necessarily at once.
		require.Eventually(t, func() bool {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])))
			if err != nil {
				return false
			}
			return ln.Close() == nil
		}, 5*time.Second, 5*time.Millisecond, "the node's port is free again")
	})
	t.Run("port in use", func(t *testing.T) {
		if !testnode.Isolate(t) {
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer func() { _ = ln.Close() }()
		n, err := dbnode.Start(node.Config{Port: ln.Addr().(*net.TCPAddr).Port}, registry.Config{Database: "sqlite:///:memory:"})
		require.ErrorIs(t, err, client.ErrUnavailable)
		require.Nil(t, n)
	})
}
