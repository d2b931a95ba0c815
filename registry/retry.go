package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/messages"
)

// WithConnectRetry makes Connect — and so Run, Serve and ListenAndServe —
// wait for the databases: a connect that fails only because databases
// could not be reached (refused, timed out, a host name that does not
// resolve yet, the server starting up) is rolled back as always and tried
// again, all or nothing, with randomized exponential backoff between
// Config.Health's BackoffMin and BackoffMax, until one succeeds or ctx
// ends; then the error says so and carries the last attempt's failure.
// Failed attempts are logged (the first ten, then every hundredth). Any
// other failure (a wrong password or certificate, a missing database, a
// hook's error, an invalid configuration, an SQLite file that cannot be
// opened) returns at once. With a ctx that never ends, Connect waits for
// as long as it takes. Serve and ListenAndServe with WithHealthHandler
// answer the probes while Connect waits (see WithHealthHandler). Close
// waits for an attempt under way to end (at most the database's
// connect_timeout).
func WithConnectRetry() Option {
	return func(o *options) { o.retry = true }
}

// connectRetrying is Connect under WithConnectRetry.
func (r *Registry) connectRetrying(ctx context.Context) error {
	h := r.plan.cfg.Health
	lo, hi := h.BackoffMin, h.BackoffMax
	if lo <= 0 {
		lo = actors.DefaultBackoffMin
	}
	if hi <= 0 {
		hi = actors.DefaultBackoffMax
	}
	hi = max(hi, lo)
	b := &backoff.ExponentialBackOff{InitialInterval: lo, RandomizationFactor: backoff.DefaultRandomizationFactor, Multiplier: 2, MaxInterval: hi}
	b.Reset()
	log := r.plan.Logger
	var last error // the latest attempt that failed by itself
	gaveUp := func(attempts int, err error) error {
		return fmt.Errorf("dbactor: gave up waiting for the databases after %d attempts (%w); the last: %w", attempts, context.Cause(ctx), err)
	}
	for attempt := 1; ; attempt++ {
		_, err := ops.Do(ctx, r.caller, r.pid, ops.ConnectAll(nil))
		if err == nil {
			if attempt > 1 {
				log.Info("dbactor: connected", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			// Cut short by ctx: the failure worth reporting is the
			// attempt before, if any.
			if last == nil {
				last = err
			}
			return gaveUp(attempt, last)
		}
		if !r.unreachable(err) {
			return err
		}
		last = err
		wait := min(max(b.NextBackOff(), lo), hi)
		if loggable(attempt) {
			log.Warn("dbactor: connect failed; retrying", "attempt", attempt, "next_attempt", wait, "error", oneLine(err))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return gaveUp(attempt, last)
		case <-t.C:
		}
	}
}

// unreachable reports a connect failure in which every database failed
// only because its server could not be reached: worth another attempt. An
// SQLite file that cannot be opened does not come up later.
func (r *Registry) unreachable(err error) bool {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		ce, ok := errors.AsType[*ConnectError](e)
		if !ok {
			return false // a rollback failure: counts need a look, not a retry
		}
		if d := r.named(ce.Database); d == nil || d.Dialect() != client.Postgres {
			return false
		}
		if errors.Is(e, ErrTimeout) {
			continue
		}
		// The database actor knows the cause (refused, reset, starting
		// up…) and marks what may pass by itself; a wrong password,
		// certificate, database or host name would fail forever.
		if me, ok := errors.AsType[*messages.Error](e); !ok || !errors.Is(e, ErrConnectFailed) || !me.GetTransient() {
			return false
		}
	}
	return true
}

// loggable: the first ten attempts are logged, then every hundredth, so a
// database down for hours does not flood the log.
func loggable(attempt int) bool { return attempt <= 10 || attempt%100 == 0 }

// oneLine is err's text on one line, for a log attribute.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// named is the database called name ("" the main one), nil if none.
func (r *Registry) named(name string) *Database {
	for _, d := range r.order {
		if d.name == name {
			return d
		}
	}
	return nil
}
