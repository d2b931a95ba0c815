package actors

import "google.golang.org/protobuf/proto"

// PeerStatement is a Query or Exec that a peer on another node sent, with
// what the peer's grant lets it do: the registry actor wraps every
// statement that came through a node's trust boundary in one before it
// hands it on. It is a Go value, not a protocol message, so no peer can
// send one: a statement arrives either wrapped (from a peer, constrained)
// or bare (from this actor system, trusted). Whoever routes one routes it
// by its Request's target and answers it with Request's reply type.
type PeerStatement struct {
	// Request is the *messages.Query or *messages.Exec.
	Request proto.Message
	// Peer is the peer's identity: its statements running and waiting on
	// one database are capped (QueryOptions.PerPeer, PerPeerQueue).
	Peer string
	// Write is set when the grant lets the peer write; otherwise the
	// statement runs read-only (PostgreSQL: a READ ONLY transaction;
	// SQLite: a query_only connection, one SELECT).
	Write bool
	// Role is the PostgreSQL role the statement runs as (SET LOCAL ROLE),
	// so the server's own GRANTs apply; "" for the configured user.
	// SQLite has no roles and ignores it. PostgreSQL lets any session go
	// back to its login user (RESET ROLE, set_config('role', 'none', …)),
	// and one statement may do so before it runs SQL of its own through a
	// function (query_to_xml, …): a role bounds a peer only as far as the
	// pool's own user is bounded too.
	Role string
}
