package registry

// PeerLimits bound what one peer — a node that reaches the registry
// through a node's trust boundary (package node), by its identity — may
// make the registry keep. Past a limit a request is refused with
// messages.ErrQuotaExceeded and changes nothing. Statements are bounded per
// database by actors.QueryOptions.PerPeer (running) and PerPeerQueue (waiting).
// Local callers are not limited.
type PeerLimits struct {
	// Counts is the most counts the peer may hold (each tracked Connect
	// that succeeded, or is under way, is one). 0 means 1024.
	Counts int
	// Owners is the most owner actors (Connect.owner) the registry tracks
	// for the peer. 0 means 64.
	Owners int
	// Callbacks is the most model callbacks the peer may have stored.
	// 0 means 64.
	Callbacks int
}
