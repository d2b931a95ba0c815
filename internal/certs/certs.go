package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority that signs node certificates.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the CA certificate, PEM-encoded (what CAFile holds).
	PEM []byte
}

// NewCA makes a self-signed CA called name, valid for a day.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Pool is a cert pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Node is a node's certificate and key.
type Node struct {
	// Cert is for tls.Config.Certificates.
	Cert tls.Certificate
	// CertPEM and KeyPEM are the same, PEM-encoded.
	CertPEM, KeyPEM []byte
}

// Options adjust a node certificate.
type Options struct {
	// Hosts are the DNS names and IPs the certificate names (its SANs);
	// default "localhost", 127.0.0.1 and ::1.
	Hosts []string
	// URI, when set, is a URI SAN (a SPIFFE ID, say): the node's identity
	// (see node.DefaultIdentity); else the common name is.
	URI string
	// NotBefore and NotAfter bound its validity; default from a minute ago
	// for a day. Set NotAfter in the past for an expired certificate.
	NotBefore, NotAfter time.Time
}

// Issue signs a certificate for the node called name (its common name),
// usable as both server and client certificate.
func (ca *CA) Issue(name string, o Options) (*Node, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if len(o.Hosts) == 0 {
		o.Hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Minute)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if o.URI != "" {
		u, err := url.Parse(o.URI)
		if err != nil {
			return nil, fmt.Errorf("certs: URI %q: %w", o.URI, err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	n := &Node{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}
	if n.Cert, err = tls.X509KeyPair(n.CertPEM, n.KeyPEM); err != nil {
		return nil, err
	}
	return n, nil
}

// TLS is a tls.Config for a node holding n, trusting ca: what
// node.Config.TLS takes.
func (ca *CA) TLS(n *Node) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{n.Cert}, RootCAs: ca.Pool(), ClientCAs: ca.Pool()}
}

// Files are the paths of a node's PEM files.
type Files struct{ Cert, Key, CA string }

// Write writes n's certificate and key and the CA's certificate into dir
// as <name>.crt, <name>.key and ca.crt (the key readable by its owner
// only), and returns their paths.
func (ca *CA) Write(dir, name string, n *Node) (Files, error) {
	f := Files{Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key"), CA: filepath.Join(dir, "ca.crt")}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{f.Cert, n.CertPEM, 0o644}, {f.Key, n.KeyPEM, 0o600}, {f.CA, ca.PEM, 0o644}} {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			return Files{}, err
		}
	}
	return f, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}
