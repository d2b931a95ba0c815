package node

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc/credentials"
)

// transport is a node's TLS, ready for gRPC: one config for accepting
// peers (client certificates required and verified) and one for dialling
// them (their server certificates verified, ours presented).
type transport struct {
	server, client *tls.Config
}

// creds returns the gRPC credentials of both directions.
func (t *transport) creds() (server, client credentials.TransportCredentials) {
	return credentials.NewTLS(t.server), credentials.NewTLS(t.client)
}

// tlsTransport builds the node's mutual TLS from cfg; nil without TLS
// material.
func tlsTransport(cfg Config) (*transport, error) {
	files := cfg.CertFile != "" || cfg.KeyFile != "" || cfg.CAFile != ""
	switch {
	case cfg.TLS != nil && files:
		return nil, fmt.Errorf("%w: give Config.TLS or CertFile/KeyFile/CAFile, not both", ErrTLSConfig)
	case files:
		return fromFiles(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	case cfg.TLS != nil:
		return fromConfig(cfg.TLS)
	}
	return nil, nil
}

func fromFiles(certFile, keyFile, caFile string) (*transport, error) {
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, fmt.Errorf("%w: CertFile, KeyFile and CAFile go together (the node's certificate, its key, and the CA that signs every node's)", ErrTLSConfig)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: loading the node's certificate: %w", ErrTLSConfig, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: reading CAFile: %w", ErrTLSConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: CAFile %s holds no PEM certificate", ErrTLSConfig, caFile)
	}
	return fromConfig(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ClientCAs: pool})
}

// fromConfig derives both directions from one config: the node's
// certificate, and the CA pool (RootCAs or ClientCAs: either serves for
// both when the other is unset).
func fromConfig(c *tls.Config) (*transport, error) {
	if len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetClientCertificate == nil {
		return nil, fmt.Errorf("%w: Config.TLS has no certificate: every node presents one, in both directions", ErrTLSConfig)
	}
	if c.RootCAs == nil && c.ClientCAs == nil {
		return nil, fmt.Errorf("%w: Config.TLS has no CA pool (RootCAs or ClientCAs): peers are verified against it", ErrTLSConfig)
	}
	if c.InsecureSkipVerify && c.VerifyPeerCertificate == nil && c.VerifyConnection == nil {
		return nil, fmt.Errorf("%w: Config.TLS skips verification: peers could not be told apart", ErrTLSConfig)
	}
	server, client := c.Clone(), c.Clone()
	server.ClientAuth = tls.RequireAndVerifyClientCert
	if server.ClientCAs == nil {
		server.ClientCAs = c.RootCAs
	}
	if client.RootCAs == nil {
		client.RootCAs = c.ClientCAs
	}
	for _, t := range []*tls.Config{server, client} {
		t.MinVersion = max(t.MinVersion, tls.VersionTLS12)
	}
	return &transport{server: server, client: client}, nil
}

// DefaultIdentity is a peer's identity when Config.Identity is nil: its
// certificate's first URI SAN (a SPIFFE ID, say), else its subject's
// common name.
func DefaultIdentity(cert *x509.Certificate) string {
	if len(cert.URIs) > 0 {
		return cert.URIs[0].String()
	}
	return cert.Subject.CommonName
}

// LoopbackIdentity is the identity of a peer that connects in plaintext
// from a loopback address: any process on this machine.
const LoopbackIdentity = "loopback"

// InsecureIdentity is the identity of a peer that connects in plaintext
// from another host, which only a node with Config.Insecure accepts.
const InsecureIdentity = "insecure"

// isLoopbackHost reports whether host (a name or an IP, no port) is
// loopback: "localhost" or an address in 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostOf is the host of a host:port address ("" when it has none).
func hostOf(address string) string {
	h, _, err := net.SplitHostPort(address)
	if err != nil {
		return ""
	}
	return h
}

// certCovers reports whether cert names host among its SANs (DNS names,
// with a leading wildcard, or IPs): the address a peer claims must be one
// its certificate was issued for.
func certCovers(cert *x509.Certificate, host string) bool {
	return cert.VerifyHostname(host) == nil
}

// checkPlaintext refuses a plaintext node on a host that is not loopback,
// unless cfg is explicitly insecure.
func checkPlaintext(cfg Config) error {
	if cfg.Insecure {
		return nil
	}
	if !isLoopbackHost(cfg.Host) {
		return &InsecureError{Host: cfg.Host}
	}
	if cfg.AdvertisedHost != "" {
		if h := hostOf(cfg.AdvertisedHost); h == "" || !isLoopbackHost(h) {
			return &InsecureError{Host: cfg.AdvertisedHost}
		}
	}
	return nil
}
