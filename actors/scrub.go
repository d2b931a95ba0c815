package actors

import "github.com/dbactor/dbactor/internal/dsn"

// Scrub removes the database's passwords from msg, for error texts built
// from driver errors outside the actor (schema operations, queries).
func (s *State) Scrub(msg string) string { return dsn.Scrub(msg, s.cfg.Secrets()...) }
