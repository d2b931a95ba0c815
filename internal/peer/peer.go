package peer

import (
	"github.com/asynkron/protoactor-go/actor"
)

// Header keys a node sets on every envelope it admits from a peer.
const (
	// HeaderIdentity is the peer's identity: its verified certificate's
	// URI SAN or common name, "loopback" for a plaintext peer on loopback.
	HeaderIdentity = "dbactor-peer"
	// HeaderAddress is the peer's verified node address (host:port).
	HeaderAddress = "dbactor-peer-address"
	// HeaderAccess is AccessWrite when the peer's grant lets it write
	// with statements; anything else (or nothing) means read only.
	HeaderAccess = "dbactor-access"
	// HeaderRole is the PostgreSQL role the peer's statements run as
	// (SET LOCAL ROLE); empty: the configured user's.
	HeaderRole = "dbactor-role"
	// HeaderTrusted is TrustedValue for a peer the node trusts as its own
	// (node.Config.Trusted): its counts are tracked, but neither its
	// statements nor what it holds are limited.
	HeaderTrusted = "dbactor-trusted"
)

// TrustedValue is HeaderTrusted's value for a trusted peer.
const TrustedValue = "1"

// AccessWrite is HeaderAccess's value for a peer that may write.
const AccessWrite = "rw"

// Peer is who sent a message from another node, as the node verified it.
type Peer struct {
	Identity string
	Address  string
	// Write is set when the peer's statements may write; else they run
	// read-only.
	Write bool
	// Role is the PostgreSQL role its statements run as; "" for none.
	Role string
	// Trusted is set for a peer the node trusts as its own.
	Trusted bool
}

// From returns the peer a message came from; false for a message from
// this actor system (no identity header).
func From(h actor.ReadonlyMessageHeader) (Peer, bool) {
	if h == nil {
		return Peer{}, false
	}
	id := h.Get(HeaderIdentity)
	if id == "" {
		return Peer{}, false
	}
	return Peer{Identity: id, Address: h.Get(HeaderAddress), Write: h.Get(HeaderAccess) == AccessWrite,
		Role: h.Get(HeaderRole), Trusted: h.Get(HeaderTrusted) == TrustedValue}, true
}

// Header is the header a node stamps for p.
func (p Peer) Header() map[string]string {
	h := map[string]string{HeaderIdentity: p.Identity, HeaderAddress: p.Address}
	if p.Write {
		h[HeaderAccess] = AccessWrite
	}
	if p.Role != "" {
		h[HeaderRole] = p.Role
	}
	if p.Trusted {
		h[HeaderTrusted] = TrustedValue
	}
	return h
}

// MaxName bounds what a peer names that this node keeps, logs or
// publishes (an address, a system id, an actor id, a type name):
// Proto.Actor's are far shorter.
const MaxName = 256

// Clip cuts a peer-chosen text to MaxName bytes.
func Clip(s string) string {
	if len(s) > MaxName {
		return s[:MaxName]
	}
	return s
}
