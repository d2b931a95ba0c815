// Package faults is test-only fault injection. Being internal, nothing
// outside this module can use it; the actors that honour it are the ones
// whose crash recovery the tests prove.
//
// Faults are per actor system: a test installs an Injector on the system it
// made (Install), before spawning the actors it means to break, and arms
// named points on it (Arm). Production code resolves the system's Injector
// once per actor (For: nil when none is installed, as in production) and
// passes through those points (Hit), which on a nil Injector costs one nil
// check. Two ways in:
//   - the Panic message: an actor of a system with an Injector panics on
//     receiving it at its Receive point (DatabaseReceive, SupervisorReceive,
//     RegistryReceive); without one it is an unknown message like any other;
//   - armed points: a test's Fault runs there — panics, blocks, or anything
//     else — while a real request is being handled.
//
// Nothing is process-wide: tests on different actor systems cannot see each
// other's faults, and may run in parallel.
package faults
