package regactor

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/peer"
	"github.com/dbactor/dbactor/messages"
)

// Limits bound what one peer on another node may make the registry keep
// (registry.PeerLimits): 0 means the default.
type Limits struct{ Counts, Owners, Callbacks int }

// The defaults of Limits.
const (
	defaultPeerCounts    = 1024
	defaultPeerOwners    = 64
	defaultPeerCallbacks = 64
)

func (l Limits) withDefaults() Limits {
	if l.Counts <= 0 {
		l.Counts = defaultPeerCounts
	}
	if l.Owners <= 0 {
		l.Owners = defaultPeerOwners
	}
	if l.Callbacks <= 0 {
		l.Callbacks = defaultPeerCallbacks
	}
	return l
}

// quotaError is the refusal of a request past a peer's limit.
func quotaError(p string, what string, limit int) *messages.Error {
	return &messages.Error{Code: messages.Code_CODE_QUOTA_EXCEEDED,
		Message: fmt.Sprintf("peer %q already has %d %s, its limit: give some back first", p, limit, what)}
}

// foreign refuses an actor a peer names that is not on its own node: it
// would act for that actor's node (its counts, its callbacks) or make
// this node dial it. The node's boundary refuses it first; the registry
// checks again, as every actor checks what it receives.
func foreign(p peer.Peer, what string, pid *messages.Pid) *messages.Error {
	switch {
	case pid.GetAddress() != p.Address:
		return &messages.Error{Code: messages.Code_CODE_PERMISSION_DENIED,
			Message: fmt.Sprintf("%s %s is not an actor of the requesting node %s", what, peer.Clip(pid.GetAddress()+"/"+pid.GetId()), p.Address)}
	case pid.GetId() == activator:
		// The node itself, tracked as such: no owner or callback.
		return &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: what + " is the requesting node's activator, not an actor of its own"}
	case len(pid.GetId()) > peer.MaxName:
		return &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: fmt.Sprintf("%s id longer than %d bytes", what, peer.MaxName)}
	}
	return nil
}

// peerCounts is what the holders of one peer hold, counts under way
// included.
func (a *registryActor) peerCounts(p string) (counts, owners int) {
	for h := range a.byPeer[p] {
		counts += int(h.all) + h.pending
		for _, n := range h.dbs {
			counts += int(n)
		}
		if !h.node && h.gone == "" {
			owners++
		}
	}
	return counts, owners
}

// remember files a new holder under its peer; forgetPeer undoes it.
func (a *registryActor) remember(h *holder) {
	if h.peer == "" {
		return
	}
	if a.byPeer == nil {
		a.byPeer = map[string]map[*holder]bool{}
	}
	if a.byPeer[h.peer] == nil {
		a.byPeer[h.peer] = map[*holder]bool{}
	}
	a.byPeer[h.peer][h] = true
}

func (a *registryActor) forgetPeer(h *holder) {
	if hs := a.byPeer[h.peer]; hs != nil {
		delete(hs, h)
		if len(hs) == 0 {
			delete(a.byPeer, h.peer)
		}
	}
}

// limited is the identity p's holdings are limited under; "" for a peer
// the node trusts as its own (not limited).
func limited(p peer.Peer) string {
	if p.Trusted {
		return ""
	}
	return p.Identity
}

// peerOf is the peer a request came from, as the node's boundary stamped
// it; false for a request from this actor system.
func peerOf(c actor.Context) (peer.Peer, bool) {
	return peer.From(c.MessageHeader())
}
