// Package node puts a dbactor actor system on Proto.Actor's own
// distribution: remote, hardened against hostile or broken peers (Harden),
// behind a trust boundary (TLS identity, untrusted mode, Policy).
//
// A node without databases (StartClient) reaches a registry on another
// node with Attach, which returns a client.Client: the same context-first
// calls, carried by the protobuf messages of package messages. Such a
// program links neither pgx nor SQLite: hosting a registry — a database
// node, and the registries' cluster kind — is package node/dbnode's.
//
// In a cluster whose members host registries (dbnode.Kind), any member
// addresses a registry by name (ClusterClient), wherever the cluster
// placed it.
package node
