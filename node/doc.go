// Package node runs a dbactor registry on Proto.Actor's own distribution.
//
// A database node (Start) starts Proto.Actor remote first — PIDs made
// before remote starts cannot be used from other nodes — hardened against
// hostile or broken peers (Harden), then spawns the registry under a
// well-known name. A node without databases (StartClient) reaches it with
// Attach, which returns a client.Client: the same context-first calls,
// carried by the protobuf messages of package messages.
//
// For location transparency the registry is also a cluster kind (Kind):
// any member addresses a registry by name (ClusterClient), wherever the
// cluster placed it.
package node
