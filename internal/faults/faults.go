// Package faults holds test-only fault injection messages. Being internal, no
// code outside this module can send them; the actors that honour them are the
// ones whose crash recovery the tests prove.
package faults

// Panic makes the actor that receives it panic with Value while handling a
// message, as a bug would.
type Panic struct{ Value any }
