// Package ask sends a request to an actor and waits for its reply under a
// context. It replaces actor.Future on the facade path: futures take no
// context, wake only one waiter, and race their own timeout (upstream #1145).
package ask
