package node_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/certs"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/node"
)

// TestMutualTLS: a client node with a certificate of the CA reaches a
// database node that requires one, and is known there by its identity.
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

// A database node refuses the same (dbnode's TestStartRefusesPlaintextOffLoopback).
func TestStartClientRefusesPlaintextOffLoopback(t *testing.T) {
	for _, cfg := range []node.Config{{Host: "0.0.0.0"}, {Host: "127.0.0.1", AdvertisedHost: "db.example.com:8090"}} {
		_, err := node.StartClient(cfg)
		require.ErrorIs(t, err, node.ErrInsecure)
		var ie *node.InsecureError
		require.ErrorAs(t, err, &ie)
	}
}

// nonLoopbackIP is an IPv4 address of this machine that is not loopback.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Fatal("this machine has no non-loopback IPv4 address to test an insecure node on")
	return ""
}

// TestInsecureOffLoopback: with Config.Insecure, nodes speak plaintext on
// a host that is not loopback (here this machine's own address, so the
// traffic stays on the host); their peers are "insecure", bound to their
// own IP, and get the default grant only.
func TestInsecureOffLoopback(t *testing.T) {
	if !testnode.Isolate(t) {
		return
	}
	ip := nonLoopbackIP(t)
	_, addr := startDBChild(t, envDSN+"="+sqliteDSN(t.TempDir(), "main"), envHost+"="+ip)
	n, err := node.StartClient(node.Config{Host: ip, Insecure: true, Logger: debugLogger()})
	require.NoError(t, err)
	closer(t, n)
	cl := attach(t, n, addr)
	ctx := testCtx(t, time.Minute)
	require.NoError(t, cl.Connect(ctx), "lifecycle: the default grant")
	st, err := cl.Database().Status(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.RefCount)
	_, err = cl.Database().Query(ctx, "SELECT 1")
	require.ErrorIs(t, err, client.ErrPermissionDenied, "the grants of loopback are not an insecure peer's")
	require.NoError(t, cl.Disconnect(ctx))
}
