package actors

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
)

// Scrub removes the database's passwords from msg, for error texts built
// from driver errors outside the actor (schema operations, queries).
// Besides its own URL's, it removes those of the other databases of its
// registry (plumbing.AlsoScrub): a statement or an error on one database
// can quote another's password.
func (s *State) Scrub(msg string) string { return dsn.Scrub(msg, s.secrets...) }

// alsoScrub adds secrets to those Scrub removes: the passwords of the
// other databases of its registry. Call it before the database is used.
func (s *State) alsoScrub(secrets ...string) {
	s.secrets = append(s.secrets[:len(s.secrets):len(s.secrets)], secrets...)
}

// Memory reports an in-memory SQLite database: everything in it is lost
// when its pool closes.
func (s *State) Memory() bool { return s.cfg.SQLite != nil && s.cfg.SQLite.Memory }

// errorOf turns err into a protocol error about this database: the
// SQLSTATE kept, every configured password scrubbed from the text, what
// (when not "") naming the failing step.
func (s *State) errorOf(code messages.Code, what string, err error) *messages.Error {
	msg := err.Error()
	if what != "" {
		msg = what + ": " + msg
	}
	e := &messages.Error{Code: code, Database: s.name, Message: s.Scrub(msg)}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		e.Sqlstate = pgErr.Code
	}
	return e
}

// secretsOf are the passwords of the database's own URL.
func (s *State) secretsOf() []string { return s.cfg.Secrets() }
