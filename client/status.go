package client

import (
	"time"

	"github.com/dbactor/dbactor/messages"
)

// Status is a database's state at one moment.
type Status struct {
	// Database is the name ("" for the main database).
	Database string
	// Connected reports whether the pool is open (a round trip succeeded).
	Connected bool
	// RefCount is the number of connects not yet matched by a disconnect.
	RefCount int
	// Dialect is Postgres or SQLite.
	Dialect Dialect
	// URL is the configured URL with its password replaced by "xxxxx".
	URL string
	// Health is what the health checks last found (HealthUnknown when
	// not connected). An outage changes nothing else: the count stays, the
	// pool stays open, and queries work again once the server is back.
	Health Health
	// Since is when Health last changed (the connect, the outage, the
	// recovery); zero when not connected.
	Since time.Time
	// LastError is, while Degraded, the latest failed ping or probe
	// (matching ErrConnectFailed or ErrTimeout); nil otherwise.
	LastError error
	// FailedProbes counts the recovery probes that failed while Degraded.
	FailedProbes int
}

// Dialect is a database's SQL dialect.
type Dialect string

// The dialects dbactor speaks.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Health is what a connected database's health pings last found.
type Health int

// The health states.
const (
	// HealthUnknown: not connected, nothing is checked.
	HealthUnknown Health = iota
	// Healthy: the last ping succeeded, or the pool was just opened.
	Healthy
	// Degraded: a ping failed; recovery probes run with backoff.
	Degraded
)

// String implements fmt.Stringer.
func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Degraded:
		return "degraded"
	}
	return "unknown"
}

// StatusOf reads a status reply of the protocol.
func StatusOf(s *messages.Status) Status {
	st := Status{
		Database:     s.GetDatabase(),
		Connected:    s.GetConnected(),
		RefCount:     int(s.GetRefCount()),
		Dialect:      Dialect(s.GetDialect()),
		URL:          s.GetRedactedUrl(),
		FailedProbes: int(s.GetFailedProbes()),
	}
	switch s.GetHealth() {
	case messages.Health_HEALTH_HEALTHY:
		st.Health = Healthy
	case messages.Health_HEALTH_DEGRADED:
		st.Health = Degraded
	}
	if s.GetSince() != nil {
		st.Since = s.GetSince().AsTime()
	}
	if e := s.GetLastError(); e != nil {
		st.LastError = e
	}
	return st
}
