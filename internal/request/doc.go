// Package request is dbactor's one way of asking an actor: a request with a
// deadline in it, a reply address of its own, and a late-reply undo — a
// connect whose success comes after its caller gave up (cancelled, past its
// deadline, its node lost, or its actor stopped) is handed to an undo, so no
// count is held by nobody. The blocking facade (Caller, Request), the remote
// client and the asynchronous in-actor API (Async) are thin callers of it;
// Gate lets Close wait for every call in flight.
//
// It replaces actor.Future on these paths: futures take no context, wake
// only one waiter, and race their own timeout (upstream #1145).
package request
