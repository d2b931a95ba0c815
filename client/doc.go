// Package client reaches a dbactor registry by messages only: the facade of
// a node that holds no databases, and of actors that must not block.
//
//   - Client (Attach, AttachFunc) is the blocking, context-first facade of a
//     registry on another node — or in this actor system but spawned with
//     registry.Props. Its counts belong to its own actor: when that stops
//     (Close, a crash of this process, the node lost), the registry gives
//     them back. RemoteDatabase runs Query and Exec on the registry's node;
//     MigrateStatus, MigrateUp and MigrateDown run the migrations that node
//     serves (package migrate's Serve) and return a plain MigrationReport.
//   - Async is the same operations from inside an actor, without blocking
//     its Receive: the outcome comes back as a continuation on the actor.
//
// Every call of either is one of the protocol's requests, read through the
// same code as the local registry package's: the errors match the same
// sentinels (ErrClosed, ErrTimeout, ErrUnavailable, …) and typed errors
// (*ConnectError, *DisconnectError, *SchemaError). The package links neither
// pgx nor SQLite.
package client
