package actors

import "github.com/dbactor/dbactor/internal/dsn"

// Scrub removes the database's passwords from msg, for error texts built
// from driver errors outside the actor (schema operations, queries).
func (s *State) Scrub(msg string) string { return dsn.Scrub(msg, s.cfg.Secrets()...) }

// Memory reports an in-memory SQLite database: everything in it is lost
// when its pool closes.
func (s *State) Memory() bool { return s.cfg.SQLite != nil && s.cfg.SQLite.Memory }
