// Package actors holds the database actor: one per database, owning its
// connection pool from first connect to last disconnect.
//
// A database actor keeps Edgy/databasez semantics: the first Connect (ref
// count 0 → 1) runs the on-connect hook, opens the pool and pings it, so
// "connected" means a round trip succeeded; later connects only count. The
// last Disconnect (1 → 0) closes the pool and runs the on-disconnect hook; a
// Disconnect at 0 clamps; a forced one sets the count to 0 and closes. The
// mailbox serialises all of it, so the count needs no lock.
//
// The count and the pool live in a State that outlives the actor instance:
// when a panic restarts the actor, the new instance picks up the same State,
// so neither the pool nor the count is lost. When its registry closes, the
// actor closes the pool for good and answers every later request with
// CODE_CLOSED until the actor tree stops.
//
// Statements sent as messages (messages.Query, messages.Exec) run on query
// workers, never in the mailbox (QueryOptions). One that came from a peer
// on another node arrives wrapped (by its registry) and is held to the
// peer's grant: read-only unless it may write, as its PostgreSQL role if
// it has one, and at most QueryOptions.PerPeer running at once per peer
// (the peer's next ones wait, at most QueryOptions.PerPeerQueue of them,
// while other statements run).
package actors
