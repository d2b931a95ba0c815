package node

import (
	"errors"
	"fmt"
)

// Sentinel errors of the node package; match them with errors.Is.
var (
	// ErrInsecure: StartClient or dbnode.Start was asked to listen (or
	// advertise) in plaintext on a host that is not loopback. Give the
	// node TLS material (Config.TLS, or CertFile/KeyFile/CAFile), or set
	// Config.Insecure when a network you trust carries the traffic.
	ErrInsecure = errors.New("dbactor: node: plaintext on a non-loopback address")
	// ErrTLSConfig: the node's TLS material is incomplete or unreadable.
	ErrTLSConfig = errors.New("dbactor: node: invalid TLS configuration")
)

// InsecureError is the error StartClient and dbnode.Start return, before
// they listen, for a plaintext node on a host that is not loopback.
type InsecureError struct {
	// Host is the host that is not loopback: the listening host, or the
	// advertised one.
	Host string
}

// Error implements error.
func (e *InsecureError) Error() string {
	return fmt.Sprintf("dbactor: node: %q is not a loopback host and the node has no TLS: peers there would be "+
		"unauthenticated and their traffic readable; give Config.TLS (or CertFile, KeyFile and CAFile), or set "+
		"Config.Insecure if a network you trust carries it", e.Host)
}

// Unwrap returns ErrInsecure.
func (e *InsecureError) Unwrap() error { return ErrInsecure }
