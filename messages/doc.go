// Package messages is dbactor's actor protocol: protobuf request/reply pairs
// (generated from messages.proto) that every registry, supervisor and
// database actor accepts, locally or over Proto.Actor remote, plus the
// mapping of error codes to Go sentinel errors (errors.go).
//
// A *Error is a Go error: errors.Is matches it against the sentinel of its
// code (and ErrTimeout also against context.DeadlineExceeded).
package messages
