// Package registry is dbactor's public facade: Edgy's Registry — a main
// database plus named extra databases, connected and disconnected as one
// unit — running on Proto.Actor.
//
// # Creating a registry
//
//	reg, err := registry.New(system, registry.Config{
//		Database: "postgres://app@127.0.0.1:5432/app",
//		Extra:    map[string]string{"analytics": "sqlite:///analytics.db"},
//	})
//
// New validates everything first and reports every problem at once (each a
// *ConfigError, all matching ErrInvalidConfig); passwords never appear in
// them. A nil system gives the registry a quiet actor system of its own.
//
// # Connecting
//
// Connect connects every database concurrently, all or nothing: if one
// fails, the others are disconnected again and the error joins one
// *ConnectError per failed database. Every database keeps a ref count
// (Edgy/databasez semantics): only the first connect opens (and pings) the
// pool, only the last disconnect closes it, and nested Connects nest.
//
// # Queries
//
// Database.Pool (PostgreSQL) and Database.DB (every dialect) hand out the
// pool the database actor owns, so queries never pass through a mailbox.
//
// # Messages
//
// Every operation is also a protobuf message (package messages) that any
// actor can send to Registry.PID or Database.PID and get a reply.
//
// # Probes
//
// HealthHandler serves /livez, /readyz (Kubernetes probes), a JSON /status
// and a self-refreshing HTML page of every database; Serve and
// ListenAndServe mount it with WithHealthHandler.
//
// # Shutdown
//
// Close stops the actor tree and closes every pool the registry owns; it is
// idempotent and later calls fail fast with ErrClosed. Connect, Disconnect
// and Close have the shape func(context.Context) error, so they drop into
// fx hooks, oklog/run groups and errgroups.
package registry
