// Package supervisor holds the supervisor actor: it spawns one database actor
// per owned database, connects them all or none, disconnects them all, and
// restarts a database actor that panicked without losing its pool or count.
//
// Its decisions — what to roll back after a failed connect, what to reply,
// how to treat a crash, how to name a child — are pure functions in
// decide.go, table-tested without actors. The actor in supervisor.go only
// carries them out.
package supervisor
