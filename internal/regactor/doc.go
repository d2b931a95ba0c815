// Package regactor is the registry actor: it fronts the supervisor of a
// registry's databases, tracks the counts of callers (and gives them back
// when a caller stops or its node goes away), holds the model book and its
// callbacks, runs schema jobs outside its mailbox, and enforces the
// per-peer limits. Its state belongs to the actor; the registry package's
// facade builds a Plan once (New, Props, Copy), sends the actor the
// protocol's requests and a few local ones (Close, SpawnCallback,
// CancelJob, ServeMigrations), and reads the models through the views the
// actor publishes.
package regactor
