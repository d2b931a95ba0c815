package node

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/certs"
)

func TestCheckPlaintext(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"} {
		require.NoError(t, checkPlaintext(Config{Host: host}), host)
	}
	for _, host := range []string{"0.0.0.0", "", "10.1.2.3", "example.com", "::"} {
		err := checkPlaintext(Config{Host: host})
		require.ErrorIs(t, err, ErrInsecure, host)
		var ie *InsecureError
		require.ErrorAs(t, err, &ie)
		require.Equal(t, host, ie.Host)
		require.NoError(t, checkPlaintext(Config{Host: host, Insecure: true}), host)
	}
	require.ErrorIs(t, checkPlaintext(Config{Host: "127.0.0.1", AdvertisedHost: "db.example.com:8090"}), ErrInsecure,
		"a loopback listener reachable under another address is not loopback")
	require.NoError(t, checkPlaintext(Config{Host: "127.0.0.1", AdvertisedHost: "localhost:8090"}))
}

func TestTLSTransport(t *testing.T) {
	ca, err := certs.NewCA("ca")
	require.NoError(t, err)
	n, err := ca.Issue("node", certs.Options{})
	require.NoError(t, err)

	tr, err := tlsTransport(Config{TLS: &tls.Config{Certificates: []tls.Certificate{n.Cert}, RootCAs: ca.Pool()}})
	require.NoError(t, err)
	require.Equal(t, tls.RequireAndVerifyClientCert, tr.server.ClientAuth, "mutual: clients must present a verified certificate")
	require.NotNil(t, tr.server.ClientCAs, "one pool serves both directions")
	require.NotNil(t, tr.client.RootCAs)
	require.GreaterOrEqual(t, tr.server.MinVersion, uint16(tls.VersionTLS12))

	files, err := ca.Write(t.TempDir(), "node", n)
	require.NoError(t, err)
	tr, err = tlsTransport(Config{CertFile: files.Cert, KeyFile: files.Key, CAFile: files.CA})
	require.NoError(t, err)
	require.NotNil(t, tr)

	none, err := tlsTransport(Config{})
	require.NoError(t, err)
	require.Nil(t, none, "no TLS material: plaintext")

	for name, cfg := range map[string]Config{
		"both":         {TLS: ca.TLS(n), CertFile: files.Cert},
		"files alone":  {CertFile: files.Cert, KeyFile: files.Key},
		"missing file": {CertFile: files.Cert, KeyFile: files.Key, CAFile: files.CA + ".nope"},
		"no CA in PEM": {CertFile: files.Cert, KeyFile: files.Key, CAFile: files.Key},
		"no cert":      {TLS: &tls.Config{RootCAs: ca.Pool()}},
		"no CA":        {TLS: &tls.Config{Certificates: []tls.Certificate{n.Cert}}},
		"skip verify":  {TLS: &tls.Config{Certificates: []tls.Certificate{n.Cert}, RootCAs: ca.Pool(), InsecureSkipVerify: true}},
	} {
		_, err := tlsTransport(cfg)
		require.ErrorIs(t, err, ErrTLSConfig, name)
	}
}

func TestDefaultIdentity(t *testing.T) {
	ca, err := certs.NewCA("ca")
	require.NoError(t, err)
	for _, c := range []struct{ uri, want string }{{"", "node-a"}, {"spiffe://dbactor.test/a", "spiffe://dbactor.test/a"}} {
		n, err := ca.Issue("node-a", certs.Options{URI: c.uri})
		require.NoError(t, err)
		leaf, err := x509.ParseCertificate(n.Cert.Certificate[0])
		require.NoError(t, err)
		require.Equal(t, c.want, DefaultIdentity(leaf))
		require.True(t, certCovers(leaf, "127.0.0.1"))
		require.False(t, certCovers(leaf, "10.0.0.1"))
	}
}
