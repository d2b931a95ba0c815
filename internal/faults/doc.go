// Package faults is test-only fault injection. Being internal, nothing
// outside this module can use it; the actors that honour it are the ones
// whose crash recovery the tests prove.
//
// Two ways in: the Panic message (an actor panics on receiving it), and
// named points that production code passes through (Hit) and tests arm
// (Arm) to panic — or do anything else — while a real request is being
// handled. An unarmed point costs one atomic load.
package faults
