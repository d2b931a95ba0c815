// Package crash turns a panic inside one of dbactor's actors into a value
// that is safe to log, publish and send: Proto.Actor logs a crashed actor's
// panic value and hands it to the supervisor strategy, and a panic value
// can carry anything — a DSN with its password, a driver error. Guard
// rewrites it, with the passwords removed, before it leaves the actor.
package crash
