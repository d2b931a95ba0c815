package dsn

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidDSN matches every *ParseError through errors.Is, so callers can
	// test for "bad database URL" without caring about the exact cause.
	ErrInvalidDSN = errors.New("dbactor: invalid database URL")

	// ErrEmpty is the cause when the URL is empty or only whitespace.
	ErrEmpty = errors.New("empty database URL")

	// ErrUnsupportedScheme is the cause when the URL names a database this
	// package does not handle (mysql://, redis://, ...) or has no recognisable
	// form at all.
	ErrUnsupportedScheme = errors.New("unsupported database URL scheme")

	// ErrMalformed is the cause when the URL has a supported form but cannot be
	// parsed: a bad option value, a host on a sqlite URL, or anything pgx's
	// own parser rejects.
	ErrMalformed = errors.New("malformed database URL")
)

// ParseError is the only error type returned by Parse. None of its fields or
// texts contain a password from the input.
type ParseError struct {
	// Redacted is the input with passwords replaced by "xxxxx", never the raw input.
	Redacted string
	// Reason says what is wrong, in words meant for a human.
	Reason string
	// Err is ErrEmpty, ErrUnsupportedScheme, ErrMalformed, or a scrubbed copy of
	// pgx's error text that unwraps to ErrMalformed.
	Err error
}

// Error formats the redacted input and the reason, e.g.
// `dbactor: invalid database URL "postgres://u:xxxxx@h:99999/db": invalid port`.
func (e *ParseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%s %q", ErrInvalidDSN.Error(), e.Redacted)
	}
	return fmt.Sprintf("%s %q: %s", ErrInvalidDSN.Error(), e.Redacted, e.Reason)
}

// Unwrap returns the cause, so errors.Is works with ErrEmpty,
// ErrUnsupportedScheme and ErrMalformed.
func (e *ParseError) Unwrap() error { return e.Err }

// Is reports true for ErrInvalidDSN: every ParseError is an invalid DSN.
func (e *ParseError) Is(target error) bool { return target == ErrInvalidDSN }

// scrubbedError carries the text of a pgx parse error with the passwords
// scrubbed out. It deliberately does not unwrap to the pgx error, whose
// ConnString field holds the unredacted input; it unwraps to ErrMalformed
// so every ParseError cause is one of the three sentinels.
type scrubbedError struct{ text string }

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return ErrMalformed }

// malformed builds the internal form of a ParseError; Parse fills in
// Redacted and scrubs Reason before returning it.
func malformed(format string, args ...any) *ParseError {
	return &ParseError{Err: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
}

// unsupported is malformed's twin for ErrUnsupportedScheme.
func unsupported(format string, args ...any) *ParseError {
	return &ParseError{Err: ErrUnsupportedScheme, Reason: fmt.Sprintf(format, args...)}
}
