// Package drain answers the requests a stopped actor leaves in its mailbox.
//
// Proto.Actor skips every user message still queued when an actor stops:
// no reply, no dead letter, so each requester waits for its own timeout.
// The mailbox still pops those messages and shows them to its middleware,
// so a Drain installed as mailbox middleware answers them — with a reply
// of the type the requester waits for — once the actor has stopped.
package drain
