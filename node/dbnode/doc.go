// Package dbnode hosts dbactor registries on Proto.Actor's own
// distribution: the database side of package node.
//
// Start starts a database node: a node (see package node) with remote
// started first — PIDs made before remote starts cannot be used from
// other nodes — then a registry spawned under a well-known name and
// exported to the node's peers. Nodes without databases reach it with
// node.StartClient and Node.Attach, and link neither pgx nor SQLite: that
// is why hosting lives here and not in package node.
//
// For location transparency the registry is also a cluster kind (Kind):
// any member addresses a registry by name (node.ClusterClient), wherever
// the cluster placed it.
package dbnode
