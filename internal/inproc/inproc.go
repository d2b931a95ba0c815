// Package inproc holds the messages dbactor's own actors send one another
// within one process — a registry to its supervisor, a supervisor to its
// database actors — and never over the network: Go values, not protocol
// messages, so no peer can send one. FailedReply answers any of them, and
// any protocol request, when it fails before it is handled.
package inproc

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/messages"
)

// CloseDatabase makes a database actor close its pool for good — whatever
// its count — and answer every later request with CODE_CLOSED, staying
// alive to do so until its registry's actor tree stops: a stopped actor
// would drop the requests still arriving, unanswered. It answers
// DatabaseClosed. The supervisor sends it when its registry closes.
type CloseDatabase struct{}

// DatabaseClosed answers CloseDatabase.
type DatabaseClosed struct{}

// CloseSupervisor asks a supervisor to refuse further requests, wait for
// those in flight, release what its registry still holds on databases
// shared from other registries, and close its own databases for good
// (CloseDatabase: each first answers every request already queued). Its
// registry's Close sends it: no other node may close a registry.
type CloseSupervisor struct{}

// SupervisorClosed answers CloseSupervisor.
type SupervisorClosed struct{ Err error }

// PeerStatement is a Query or Exec that a peer on another node sent, with
// what the peer's grant lets it do: the registry actor wraps every
// statement that came through a node's trust boundary in one before it
// hands it on, so a statement arrives either wrapped (from a peer,
// constrained) or bare (from this actor system, trusted). Whoever routes
// one routes it by its Request's target and answers it with Request's
// reply type.
type PeerStatement struct {
	// Request is the *messages.Query or *messages.Exec.
	Request proto.Message
	// Peer is the peer's identity: its statements running and waiting on
	// one database are capped (actors.QueryOptions.PerPeer, PerPeerQueue).
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

// GetDeadline is the deadline of the wrapped request, so that a
// PeerStatement's deadline is checked like a bare request's.
func (p *PeerStatement) GetDeadline() *timestamppb.Timestamp {
	if m, ok := p.Req().(interface{ GetDeadline() *timestamppb.Timestamp }); ok {
		return m.GetDeadline()
	}
	return nil
}

// Req is p's Request; nil for a nil p.
func (p *PeerStatement) Req() proto.Message {
	if p == nil {
		return nil
	}
	return p.Request
}

// FailedReply is the reply of the right type for a request that failed
// before it was handled, or nil when req is not a request: the answer to
// a lifecycle message here, a PeerStatement's Request's reply type, and
// messages.FailedReply for a protocol request.
func FailedReply(req any, e *messages.Error) any {
	switch r := req.(type) {
	case *CloseSupervisor:
		return &SupervisorClosed{Err: e}
	case *CloseDatabase:
		return &DatabaseClosed{}
	case *PeerStatement:
		return messages.FailedReply(r.Req(), e)
	}
	return messages.FailedReply(req, e)
}
