package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/ask"
	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/supervisor"
)

// Dialect is a database's SQL dialect.
type Dialect = dsn.Dialect

// The dialects dbactor speaks.
const (
	Postgres = dsn.Postgres
	SQLite   = dsn.SQLite
)

// Database is a handle on one database of a registry (Edgy's databasez
// Database). Its actor owns the pool; the handle asks the actor to connect
// and disconnect, and hands out the pool itself so queries never pass
// through a mailbox. Safe for use from any goroutine.
type Database struct {
	name  string
	state *actors.State
	// owner is the registry actor that owns the database: requests go there
	// when the database actor is gone (its tree stopped).
	owner *actor.PID
	// ownerGate is the gate of the registry that owns the database: its
	// Close closes the database for every registry sharing it.
	ownerGate *gate
	*caller
}

// Name is the database's name in this registry: "" for the main database.
func (d *Database) Name() string { return d.name }

// Dialect is Postgres or SQLite.
func (d *Database) Dialect() Dialect { return d.state.Dialect() }

// URL is the configured URL with its password replaced by "xxxxx".
func (d *Database) URL() string { return d.state.RedactedURL() }

// String describes the database without its password.
func (d *Database) String() string {
	return fmt.Sprintf("dbactor.Database{name=%q dialect=%s url=%s}", d.name, d.Dialect(), d.URL())
}

// PID is the database actor's PID: send it messages.Connect, Disconnect and
// GetStatus directly.
func (d *Database) PID() *actor.PID { return d.state.PID() }

// Pool is the database's *pgxpool.Pool while it is connected; nil when it is
// closed and for SQLite. The pool belongs to the database actor: do not
// close it, disconnect instead. A pool obtained before the last disconnect is
// closed by it.
func (d *Database) Pool() *pgxpool.Pool { return d.state.Pool() }

// DB is the database's *sql.DB while it is connected (for PostgreSQL, one
// built on Pool by stdlib.OpenDBFromPool); nil when it is closed. Like Pool,
// it belongs to the database actor: do not close it.
func (d *Database) DB() *sql.DB { return d.state.DB() }

// Connect raises the ref count. Only the first connect (0 → 1) opens and
// pings the pool and reports true; later ones only count. On failure the
// count is unchanged and the error is a *ConnectError. If ctx is cancelled
// while the connect is under way, the count it took is given back.
func (d *Database) Connect(ctx context.Context) (bool, error) {
	reply, err := d.request(ctx, func(ts *timestamppb.Timestamp, t *messages.Target) any {
		return &messages.Connect{Target: t, Deadline: ts}
	}, func(late any) {
		if r, ok := late.(*messages.ConnectResult); ok && len(r.GetErrors()) == 0 {
			d.undo(d.owner, &messages.Disconnect{Target: &messages.Target{Database: d.state.Name()}})
		}
	})
	if err != nil {
		return false, &ConnectError{Database: d.name, Err: err}
	}
	r, ok := supervisor.Relabel(reply, d.name).(*messages.ConnectResult)
	if !ok {
		return false, unexpected(reply)
	}
	if err := replyErrors(r.GetErrors(), connectError); err != nil {
		return false, err
	}
	return r.GetOpened(), nil
}

// Disconnect lowers the ref count; the last disconnect (1 → 0) closes the
// pool, waiting until every acquired connection is released (bounded by
// ctx), and reports true. At 0 the count stays 0 and it reports false.
func (d *Database) Disconnect(ctx context.Context) (bool, error) { return d.disconnect(ctx, false) }

// ForceDisconnect sets the ref count to 0 and closes the pool if it is open
// (reporting true). The database can be connected again afterwards.
func (d *Database) ForceDisconnect(ctx context.Context) (bool, error) { return d.disconnect(ctx, true) }

func (d *Database) disconnect(ctx context.Context, force bool) (bool, error) {
	reply, err := d.request(ctx, func(ts *timestamppb.Timestamp, t *messages.Target) any {
		return &messages.Disconnect{Target: t, Force: force, Deadline: ts}
	}, nil)
	if err != nil {
		return false, &DisconnectError{Database: d.name, Err: err}
	}
	r, ok := supervisor.Relabel(reply, d.name).(*messages.DisconnectResult)
	if !ok {
		return false, unexpected(reply)
	}
	return r.GetClosed(), replyErrors(r.GetErrors(), disconnectError)
}

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
	// Health is what the idle health pings last found (HealthUnknown when
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

// Status asks the database actor for its state.
func (d *Database) Status(ctx context.Context) (Status, error) {
	reply, err := d.request(ctx, func(_ *timestamppb.Timestamp, t *messages.Target) any {
		return &messages.GetStatus{Target: t}
	}, nil)
	if err != nil {
		return Status{}, fmt.Errorf("dbactor: status of %s: %w", actors.DisplayName(d.name), err)
	}
	s, ok := supervisor.Relabel(reply, d.name).(*messages.Status)
	if !ok {
		return Status{}, unexpected(reply)
	}
	if e := s.GetError(); e != nil {
		return Status{}, e
	}
	return statusFrom(s), nil
}

func statusFrom(s *messages.Status) Status {
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

// request asks the database actor directly. If that actor is gone (a dead
// letter: nothing was done), it asks the owning registry instead, which
// answers for the database or that it is closed.
func (d *Database) request(ctx context.Context, build func(*timestamppb.Timestamp, *messages.Target) any, undo func(any)) (any, error) {
	reply, err := d.call(ctx, d.state.PID(), func(ts *timestamppb.Timestamp) any { return build(ts, nil) }, undo)
	target := &messages.Target{Database: d.state.Name()}
	for range 3 {
		if !errors.Is(err, ask.ErrNoActor) {
			break
		}
		reply, err = d.call(ctx, d.owner, func(ts *timestamppb.Timestamp) any { return build(ts, target) }, undo)
	}
	return reply, err
}

func unexpected(reply any) error {
	return fmt.Errorf("%w: unexpected reply %T", ErrInternal, reply)
}
