package node

import (
	"context"
	"crypto/x509"
	"net"
	"sync"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// handshakes records the server certificate a probe's TLS handshake
// verified, which gRPC does not hand to the caller of a stream.
type handshakes struct {
	mu   sync.Mutex
	cert *x509.Certificate
}

func (h *handshakes) leaf() *x509.Certificate {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cert
}

func (h *handshakes) wrap(c credentials.TransportCredentials) credentials.TransportCredentials {
	return &recording{TransportCredentials: c, h: h}
}

type recording struct {
	credentials.TransportCredentials
	h *handshakes
}

// ClientHandshake implements credentials.TransportCredentials.
func (r *recording) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := r.TransportCredentials.ClientHandshake(ctx, authority, conn)
	if err == nil {
		if t, ok := info.(credentials.TLSInfo); ok && len(t.State.PeerCertificates) > 0 {
			r.h.mu.Lock()
			r.h.cert = t.State.PeerCertificates[0]
			r.h.mu.Unlock()
		}
	}
	return c, info, err
}

// Clone implements credentials.TransportCredentials.
func (r *recording) Clone() credentials.TransportCredentials {
	return &recording{TransportCredentials: r.TransportCredentials.Clone(), h: r.h}
}

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }
