package actors

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/messages"
)

// Health defaults (Elixir DBConnection's idle pings and backoff, scaled to
// pools that keep connections for minutes).
const (
	DefaultHealthInterval = 5 * time.Second
	DefaultHealthTimeout  = 5 * time.Second
	DefaultBackoffMin     = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
)

// HealthOptions configure a connected database's health checks.
type HealthOptions struct {
	// Interval between idle pings while healthy. 0 means
	// DefaultHealthInterval; negative turns health checks off (Status then
	// reports HEALTH_HEALTHY while connected, as nothing is checked).
	Interval time.Duration
	// Timeout bounds each ping and probe. 0 means DefaultHealthTimeout.
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
// whatever the State holds later.
type pinger struct {
	pool   *pgxpool.Pool
	db     *sql.DB
	faults *faults.Injector // the database actor's: nil in production
}

// busy reports a pool whose connections are all in use: its users' queries
// are the check then, and a ping would only queue behind them (and time out
// on a busy but healthy server).
func (p pinger) busy() bool {
	if p.pool != nil {
		st := p.pool.Stat()
		return st.AcquiredConns() >= st.MaxConns()
	}
	st := p.db.Stats()
	return st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections
}

func (p pinger) ping(ctx context.Context) error {
	if p.pool != nil {
		return p.pool.Ping(ctx)
	}
	return p.db.PingContext(ctx) // not a statement: SQL echo stays quiet
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
	go s.healthLoop(ctx, sys, pinger{pool: s.pool.Load(), db: db, faults: inj}, s.watch.done)
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

func (s *State) healthLoop(ctx context.Context, sys *actor.ActorSystem, p pinger, done chan struct{}) {
	defer close(done)
	t := time.NewTimer(s.healthOpts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !p.busy() {
			// A pooled connection the server dropped fails once; the second
			// ping gets a fresh one, so only a real outage fails twice.
			if err := s.check(ctx, p); err != nil {
				if err = s.check(ctx, p); err != nil && s.down(ctx, sys, err) {
					s.recover(ctx, sys, p)
				}
			}
		}
		t.Reset(s.healthOpts.Interval)
	}
}

// recover probes with randomized exponential backoff until a probe
// succeeds or ctx ends.
func (s *State) recover(ctx context.Context, sys *actor.ActorSystem, p pinger) {
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
func (s *State) check(ctx context.Context, p pinger) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.healthOpts.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("health ping panicked: %v", r)
		}
	}()
	p.faults.Hit(faults.HealthPing, s.PID(), s)
	err = p.ping(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("health ping: no answer within %s: %w", s.healthOpts.Timeout, err)
	}
	return err
}

// down records the outage and publishes DatabaseDown; false when the loop
// has been stopped meanwhile (the database is closing: no outage to tell).
func (s *State) down(ctx context.Context, sys *actor.ActorSystem, err error) bool {
	e := s.errorOf(messages.Code_CODE_CONNECT_FAILED, "health ping", err)
	now := time.Now()
	if !s.setHealth(ctx, func(h *health) { *h = health{state: messages.Health_HEALTH_DEGRADED, since: now, last: e} }) {
		return false
	}
	s.logger.Warn("dbactor: database unreachable; probing with backoff", "error", e.GetMessage())
	s.publish(sys, &messages.DatabaseDown{Database: s.name, Error: e, Since: timestamppb.New(now)})
	return true
}

func (s *State) probeFailed(ctx context.Context, sys *actor.ActorSystem, err error, attempt uint32, next time.Duration) bool {
	e := s.errorOf(messages.Code_CODE_CONNECT_FAILED, "recovery probe", err)
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
