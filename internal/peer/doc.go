// Package peer carries what a node's trust boundary knows about a message
// from another node to the actors that act on it.
//
// The node (package node) admits an envelope from a peer only after it
// has bound it to the peer's verified identity and address; it then sets
// the headers below on the envelope itself, overwriting whatever the peer
// sent. The registry actor reads them (From): a message carrying them came
// from another node through the boundary; one without them came from this
// actor system and is trusted, as before. Nothing else may set them:
// local code is trusted, and remote code cannot get past the node.
//
// Exports is the other direction: the actors of this node that peers may
// address. The node registers itself as an actor-system extension; code
// that hands a local PID to a registry on another node (a Client's own
// actor, a callback actor) exports it with Export, which does nothing on
// a system without a node.
package peer
