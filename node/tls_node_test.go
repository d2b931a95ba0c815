package node_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/certs"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/registry"
)

// TestMutualTLS: a client node with a certificate of the CA reaches a
// database node that requires one, and is known there by its identity;
// Start refuses plaintext off loopback before it listens.
func TestMutualTLS(t *testing.T) {
	if !testnode.Isolate(t) {
		return
	}
	dir := t.TempDir()
	ca, err := certs.NewCA("dbactor-test-ca")
	require.NoError(t, err)
	for _, name := range []string{"db", "client"} {
		n, err := ca.Issue(name, certs.Options{})
		require.NoError(t, err)
		_, err = ca.Write(dir, name, n)
		require.NoError(t, err)
	}
	_, addr := startDBChild(t, envDSN+"="+sqliteDSN(dir, "main"), envTLSDir+"="+dir)

	cn, err := ca.Issue("client", certs.Options{})
	require.NoError(t, err)
	n, err := node.StartClient(node.Config{TLS: ca.TLS(cn), Logger: debugLogger()})
	require.NoError(t, err)
	closer(t, n)
	cl := attach(t, n, addr)
	ctx := testCtx(t, time.Minute)
	require.NoError(t, cl.Connect(ctx))
	res, err := cl.Database().Query(ctx, "SELECT 41 + 1")
	require.NoError(t, err)
	require.EqualValues(t, 42, res.Rows[0][0])
	st, err := cl.Database().Status(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.RefCount)
	require.NoError(t, cl.Disconnect(ctx))
}

func TestStartRefusesPlaintextOffLoopback(t *testing.T) {
	for _, cfg := range []node.Config{{Host: "0.0.0.0"}, {Host: "127.0.0.1", AdvertisedHost: "db.example.com:8090"}} {
		_, err := node.Start(cfg, registry.Config{Database: "sqlite:///:memory:"})
		require.ErrorIs(t, err, node.ErrInsecure)
		_, err = node.StartClient(cfg)
		require.ErrorIs(t, err, node.ErrInsecure)
	}
}
