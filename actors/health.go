package actors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/messages"
)

// Health defaults: an outage is seen within Interval + Timeout (1.25 s),
// and a recovery within BackoffMax plus one connect.
const (
	DefaultHealthInterval = 250 * time.Millisecond
	DefaultHealthTimeout  = time.Second
	DefaultBackoffMin     = 100 * time.Millisecond
	DefaultBackoffMax     = 500 * time.Millisecond
)

// HealthOptions configure a connected database's health checks.
//
// A PostgreSQL database is pinged on a connection of its own, outside the
// pool: a pool whose connections are all in use is checked as promptly as
// an idle one, and a ping never waits behind queries (nor times out
// because of them). That is one more server connection per database. An
// SQLite database is pinged through its pool, unless every connection is
// in use. A statement that fails with a connection-class error (a dropped
// connection, a refused dial, a server shutting down) starts a check at
// once.
type HealthOptions struct {
	// Interval between pings while healthy. 0 means
	// DefaultHealthInterval; negative turns health checks off (Status then
	// reports HEALTH_HEALTHY while connected, as nothing is checked).
	Interval time.Duration
	// Timeout bounds each ping and probe: a server that does not answer
	// within it is down. 0 means DefaultHealthTimeout.
	Timeout time.Duration
	// BackoffMin and BackoffMax bound the randomized exponential backoff
	// between recovery probes while degraded: every wait lies in
	// [BackoffMin, BackoffMax]. 0 means the defaults.
	BackoffMin, BackoffMax time.Duration
}

func (o HealthOptions) withDefaults() HealthOptions {
	if o.Interval == 0 {
		o.Interval = DefaultHealthInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultHealthTimeout
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	return o
}

// health is the state the health loop keeps; guarded by State.hmu.
type health struct {
	state  messages.Health
	since  time.Time
	last   *messages.Error
	probes uint32
}

// watcher is one running health loop: stop ends it, done is closed once
// it has returned.
type watcher struct {
	stop context.CancelFunc
	done chan struct{}
}

// pinger is what the health loop checks: the pool it was started for, not
// whatever the State holds later. Only the loop's goroutine uses it.
type pinger struct {
	pool   *pgxpool.Pool
	db     *sql.DB
	faults *faults.Injector // the database actor's: nil in production
	// conn is the PostgreSQL probe connection, dialled from the pool's
	// config; nil until dialled and after a failure. sockets are the
	// network connections dialled for it.
	conn    *pgx.Conn
	sockets *sockets
	// full is set when the server had no connection slot for the probe
	// (53300): it is up, and is not dialled again before then.
	full time.Time
}

// busy reports an SQLite pool whose connections are all in use: a ping
// would queue behind its users (and time out on a busy but healthy
// database). PostgreSQL pings on a connection of their own.
func (p *pinger) busy() bool {
	if p.pool != nil {
		return false
	}
	st := p.db.Stats()
	return st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections
}

// ping pings once within timeout. A PostgreSQL probe connection that
// fails is closed; when it was an old one that failed for another reason
// than silence (the server dropped it), a fresh one is tried at once, so
// only an outage fails.
func (p *pinger) ping(ctx context.Context, timeout time.Duration) error {
	if p.pool == nil {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return p.db.PingContext(ctx) // not a statement: SQL echo stays quiet
	}
	old := p.conn != nil
	err := p.pingConn(ctx, timeout)
	if err != nil && old && !errors.Is(err, errNoAnswer) && ctx.Err() == nil {
		err = p.pingConn(ctx, timeout)
	}
	return err
}

// errNoAnswer: the server did not answer a ping within the health timeout.
var errNoAnswer = errors.New("no answer")

func (p *pinger) pingConn(ctx context.Context, timeout time.Duration) (err error) {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if err != nil {
			p.close()
			if pctx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("%w within %s: %w", errNoAnswer, timeout, err)
			}
		}
	}()
	if p.conn == nil && time.Now().Before(p.full) {
		return nil // no slot a moment ago: the server answered then
	}
	if p.conn == nil {
		cfg := p.pool.Config().ConnConfig.Copy()
		cfg.Tracer = nil // its failures are the loop's own, not a statement's
		p.sockets = &sockets{}
		cfg.DialFunc = p.sockets.dial(cfg.DialFunc)
		if p.conn, err = pgx.ConnectConfig(pctx, cfg); err != nil {
			if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "53300" {
				// Every connection slot is taken (the role's limit,
				// max_connections): the server is up and answering,
				// and the pool's own connections are its users'. Do
				// not knock on a full server at every check.
				p.full = time.Now().Add(10 * timeout)
				p.sockets.close()
				p.sockets = nil
				return nil
			}
			return err
		}
	}
	return p.conn.Ping(pctx)
}

// close closes the probe connection, if any, and every socket dialled for
// it: after a ping cut short, pgx cancels it on a connection of its own,
// which a frozen server would hold for 15 s.
func (p *pinger) close() {
	conn, socks := p.conn, p.sockets
	p.conn, p.sockets = nil, nil
	if conn == nil {
		if socks != nil {
			socks.close() // a dial that failed
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = conn.Close(ctx)
	socks.close()
	select {
	case <-conn.PgConn().CleanupDone():
	case <-time.After(time.Second):
	}
}

// sockets are the network connections dialled for one probe connection;
// once closed, it closes them and refuses to dial more.
type sockets struct {
	mu     sync.Mutex
	open   []net.Conn
	closed bool
}

func (s *sockets) dial(next pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			_ = c.Close()
			return nil, net.ErrClosed
		}
		s.open = append(s.open, c)
		return c, nil
	}
}

func (s *sockets) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.open {
		_ = c.Close()
	}
	s.open = nil
}

// startHealth starts the health loop for the pool just opened (the actor
// calls it after a 0 → 1 connect). The loop publishes its events on sys;
// inj is the actor's fault injector (nil in production).
func (s *State) startHealth(sys *actor.ActorSystem, inj *faults.Injector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db := s.db.Load()
	if db == nil || s.watch != nil {
		return // closed meanwhile, or already watched
	}
	s.hmu.Lock()
	s.h = health{state: messages.Health_HEALTH_HEALTHY, since: time.Now()}
	s.hmu.Unlock()
	if s.healthOpts.Interval < 0 {
		return
	}
	ctx, stop := context.WithCancel(s.life)
	s.watch = &watcher{stop: stop, done: make(chan struct{})}
	go s.healthLoop(ctx, sys, &pinger{pool: s.pool.Load(), db: db, faults: inj}, s.watch.done)
}

// stopHealth ends the health loop, if any, without waiting for it: it may
// be running an event hook that waits for this very close (a hook that
// disconnects on DatabaseDown). WaitClosed waits for it. Called with s.mu
// held.
func (s *State) stopHealth() {
	if w := s.watch; w != nil {
		w.stop()
		s.watch = nil
		s.stopped = append(slices.DeleteFunc(s.stopped, returned), w.done)
	}
	s.hmu.Lock()
	s.h = health{}
	s.hmu.Unlock()
}

func returned(done chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// failed is told of a statement that failed: a connection-class failure
// wakes the health loop for a check now. It does nothing on success, so
// the query path pays only the call.
func (s *State) failed(err error) {
	if err == nil || !connectionClass(err) {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default: // a check is due already
	}
}

// connectionClass reports an error that says the server or the way to it
// failed, not the statement: a dial, a dropped or reset connection, a
// server shutting down (SQLSTATE class 08, 57P01–57P03). A cancelled or
// timed-out context is the caller's.
func connectionClass(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	if e, ok := errors.AsType[interface {
		error
		Code() int
	}](err); ok {
		// SQLite's (modernc): the file, not the statement, failed.
		switch e.Code() & 0xff {
		case sqliteIOErr, sqliteCorrupt, sqliteFull, sqliteCantOpen, sqliteNotADB:
			return true
		}
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// transient reports a connect failure that may pass by itself: refused,
// reset, unreachable or unanswered, a host name that does not resolve (yet),
// a server starting up, shutting down or full. A wrong certificate,
// password or database will not.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		// Not found included: a database container that is not up yet
		// (compose, Kubernetes) has no name until it is.
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return false
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return false
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return false
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return false
	}
	if _, ok := errors.AsType[tls.AlertError](err); ok {
		return false
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT, syscall.EPIPE} {
		if errors.Is(err, errno) {
			return true
		}
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// SQLite's primary result codes of a failing file (sqlite3.h).
const (
	sqliteIOErr    = 10
	sqliteCorrupt  = 11
	sqliteFull     = 13
	sqliteCantOpen = 14
	sqliteNotADB   = 26
)

func (s *State) healthLoop(ctx context.Context, sys *actor.ActorSystem, p *pinger, done chan struct{}) {
	defer close(done)
	defer p.close()
	t := time.NewTimer(s.healthOpts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		if err := s.check(ctx, p); err != nil && s.down(ctx, sys, err) {
			s.recover(ctx, sys, p)
		}
		t.Reset(s.healthOpts.Interval)
	}
}

// recover probes with randomized exponential backoff until a probe
// succeeds or ctx ends.
func (s *State) recover(ctx context.Context, sys *actor.ActorSystem, p *pinger) {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     s.healthOpts.BackoffMin,
		RandomizationFactor: backoff.DefaultRandomizationFactor,
		Multiplier:          2,
		MaxInterval:         s.healthOpts.BackoffMax,
	}
	b.Reset()
	// The jitter stays inside [BackoffMin, BackoffMax].
	next := func() time.Duration {
		return min(max(b.NextBackOff(), s.healthOpts.BackoffMin), s.healthOpts.BackoffMax)
	}
	t := time.NewTimer(next())
	defer t.Stop()
	for attempt := uint32(1); ; attempt++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.check(ctx, p)
		if err == nil {
			// Statements that failed during the outage asked for checks
			// that are answered now.
			select {
			case <-s.wake:
			default:
			}
			s.up(ctx, sys)
			return
		}
		wait := next()
		if !s.probeFailed(ctx, sys, err, attempt, wait) {
			return
		}
		t.Reset(wait)
	}
}

// check runs one ping bounded by the health timeout. A panic in it (a test's
// injected fault, a driver bug) is a failed ping, not a dead process.
func (s *State) check(ctx context.Context, p *pinger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	p.faults.Hit(faults.HealthPing, s.PID(), s)
	if p.busy() {
		return nil // its users' statements are the check, and report failures
	}
	return p.ping(ctx, s.healthOpts.Timeout)
}

// healthError is a failed ping or probe as a protocol error: CODE_TIMEOUT
// when the server did not answer, CODE_CONNECT_FAILED otherwise.
func (s *State) healthError(what string, err error) *messages.Error {
	code := messages.Code_CODE_CONNECT_FAILED
	if errors.Is(err, errNoAnswer) {
		code = messages.Code_CODE_TIMEOUT
	}
	return s.errorOf(code, what, err)
}

// down records the outage and publishes DatabaseDown; false when the loop
// has been stopped meanwhile (the database is closing: no outage to tell).
func (s *State) down(ctx context.Context, sys *actor.ActorSystem, err error) bool {
	e := s.healthError("health ping", err)
	now := time.Now()
	if !s.setHealth(ctx, func(h *health) { *h = health{state: messages.Health_HEALTH_DEGRADED, since: now, last: e} }) {
		return false
	}
	s.logger.Warn("dbactor: database unreachable; probing with backoff", "error", e.GetMessage())
	s.publish(sys, &messages.DatabaseDown{Database: s.name, Error: e, Since: timestamppb.New(now)})
	return true
}

func (s *State) probeFailed(ctx context.Context, sys *actor.ActorSystem, err error, attempt uint32, next time.Duration) bool {
	e := s.healthError("recovery probe", err)
	if !s.setHealth(ctx, func(h *health) { h.last, h.probes = e, attempt }) {
		return false
	}
	s.logger.Debug("dbactor: recovery probe failed", "attempt", attempt, "next_probe", next, "error", e.GetMessage())
	s.publish(sys, &messages.DatabaseProbeFailed{Database: s.name, Error: e, Attempt: attempt, NextProbeMs: next.Milliseconds()})
	return true
}
func (s *State) up(ctx context.Context, sys *actor.ActorSystem) {
	now := time.Now()
	var was health
	if !s.setHealth(ctx, func(h *health) { was, *h = *h, health{state: messages.Health_HEALTH_HEALTHY, since: now} }) {
		return
	}
	s.logger.Info("dbactor: database reachable again", "down_for", now.Sub(was.since), "failed_probes", was.probes)
	s.publish(sys, &messages.DatabaseUp{
		Database: s.name, DownSince: timestamppb.New(was.since), At: timestamppb.New(now), FailedProbes: was.probes,
	})
}

// setHealth applies f unless the loop's ctx has ended: stopHealth cancels
// before it resets the health under hmu, so a stopped loop never writes
// over the reset.
func (s *State) setHealth(ctx context.Context, f func(*health)) bool {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	f(&s.h)
	return true
}

// health fills the health fields of st.
func (s *State) healthOf(st *messages.Status) {
	s.hmu.Lock()
	h := s.h
	s.hmu.Unlock()
	st.Health, st.LastError, st.FailedProbes = h.state, h.last, h.probes
	if !h.since.IsZero() {
		st.Since = timestamppb.New(h.since)
	}
}
