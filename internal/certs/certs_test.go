package certs_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/certs"
)

func TestIssueVerifies(t *testing.T) {
	ca, err := certs.NewCA("test-ca")
	require.NoError(t, err)
	n, err := ca.Issue("node-a", certs.Options{URI: "spiffe://dbactor.test/node-a"})
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(n.Cert.Certificate[0])
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
	require.Equal(t, "spiffe://dbactor.test/node-a", leaf.URIs[0].String())
	require.Equal(t, "node-a", leaf.Subject.CommonName)

	other, err := certs.NewCA("other-ca")
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: other.Pool()})
	require.Error(t, err, "another CA does not vouch for it")

	old, err := ca.Issue("old", certs.Options{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	oldLeaf, err := x509.ParseCertificate(old.Cert.Certificate[0])
	require.NoError(t, err)
	_, err = oldLeaf.Verify(x509.VerifyOptions{Roots: ca.Pool()})
	require.Error(t, err, "expired")

	files, err := ca.Write(t.TempDir(), "node-a", n)
	require.NoError(t, err)
	require.FileExists(t, files.Key)
}
