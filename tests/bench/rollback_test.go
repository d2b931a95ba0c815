package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

const (
	// rollbackConnectTimeout is the connect_timeout of every P4 URL: it
	// bounds each database's open + first ping, so the unreachable one
	// fails after exactly this long.
	rollbackConnectTimeout = time.Second
	// rollbackSlack is what P4 allows on top of the connect timeout for
	// rolling the 16 healthy databases back and replying.
	rollbackSlack = 50 * time.Millisecond
	// rollbackMinSamples is the least number of connects the median
	// ms-to-error is taken over: with the default -benchtime=1s b.Loop
	// runs a single (~1 s) op, so the remaining samples are taken untimed
	// after the loop. With -benchtime=3x every sample is a timed op.
	rollbackMinSamples = 3
	// rollbackApp prefixes the application_name of every P4 pool.
	rollbackApp = "dbactor_bench_p4_"
	// rollbackBad is the unreachable extra, in the middle of the order.
	rollbackBad = "x08"
)

// BenchmarkP4Rollback (target P4): one op is a reg.Connect of 1 + 16
// PostgreSQL databases of which one (extra "x08") is a host that accepts
// TCP connections and never answers (testdb.Blackhole). Every URL has
// connect_timeout=1, so the bad database fails after 1 s; by then the 16
// others are connected and must be rolled back before Connect returns its
// error. The registry is made once; each op checks that the error names
// only the bad database and that every pool is closed again.
//
// Metrics: ms-to-error is the median time from calling Connect to its
// error over max(ops, 3) connects (see rollbackMinSamples), ms-to-error-max
// the slowest; ms-limit is the target (connect timeout + 50 ms).
// sessions-left counts the server sessions of the registry's pools after
// the last rollback (before Close: the rollback, not Close, must have ended
// them; waited for up to 10 s, since a backend leaves pg_stat_activity a
// moment after its client hangs up) — target 0. goroutines-left counts the
// goroutines above the baseline taken before the registry was made, after
// Close (waited for up to 10 s) — target 0.
func BenchmarkP4Rollback(b *testing.B) {
	base := testdb.PostgresDSN(b)
	hole := testdb.Blackhole(b)
	timeout := fmt.Sprint(rollbackConnectTimeout.Seconds())

	var mainURL string
	extra := make(map[string]string, coldstartDatabases-1)
	for i := range coldstartDatabases {
		u := coldstartURL(b, base, map[string]string{
			"application_name": fmt.Sprintf("%s%02d", rollbackApp, i),
			"connect_timeout":  timeout,
		})
		name := fmt.Sprintf("x%02d", i)
		switch {
		case i == 0:
			mainURL = u
			continue
		case name == rollbackBad:
			u = "postgres://postgres@" + hole + "/blackhole?sslmode=disable&connect_timeout=" + timeout
		}
		extra[name] = u
	}

	baseline := runtime.NumGoroutine()
	reg, err := registry.New(nil, registry.Config{Database: mainURL, Extra: extra})
	if err != nil {
		b.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			coldstartClose(b, reg)
		}
	}()
	dbs := reg.Databases()
	// Connect's own deadline (client.DefaultTimeout, 30 s) is far off:
	// the connect timeout is what ends the bad database's attempt.
	ctx := context.Background()

	var samples []time.Duration
	attempt := func() {
		start := time.Now()
		err := reg.Connect(ctx)
		samples = append(samples, time.Since(start))
		rollbackCheck(b, err)
		for _, db := range dbs {
			if db.Pool() != nil || db.DB() != nil {
				b.Fatalf("%s is still open after the failed Connect: not rolled back", db)
			}
		}
	}

	b.ReportAllocs()
	for b.Loop() {
		attempt()
	}
	for len(samples) < rollbackMinSamples {
		attempt()
	}

	slices.Sort(samples)
	b.ReportMetric(rollbackMS(samples[len(samples)/2]), "ms-to-error")
	b.ReportMetric(rollbackMS(samples[len(samples)-1]), "ms-to-error-max")
	b.ReportMetric(rollbackMS(rollbackConnectTimeout+rollbackSlack), "ms-limit")

	sessions := coldstartSessions(b, base, rollbackApp)
	b.ReportMetric(float64(sessions), "sessions-left")
	if sessions != 0 {
		b.Errorf("%d server sessions %s* still open 10 s after the rollback", sessions, rollbackApp)
	}

	closed = true
	coldstartClose(b, reg)
	left := coldstartGoroutinesLeft(baseline, 10*time.Second)
	b.ReportMetric(float64(left), "goroutines-left")
	if left != 0 {
		b.Errorf("%d goroutines above the baseline of %d still running 10 s after Close", left, baseline)
	}
}

// rollbackCheck fails the benchmark unless err is the connect error of
// exactly the unreachable database, a timeout.
func rollbackCheck(b *testing.B, err error) {
	b.Helper()
	if err == nil {
		b.Fatal("Connect succeeded with an unreachable database")
	}
	var ce *registry.ConnectError
	if !errors.As(err, &ce) || ce.Database != rollbackBad {
		b.Fatalf("want a ConnectError for %q, got: %v", rollbackBad, err)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) != 1 {
		b.Fatalf("only %q should have failed, got: %v", rollbackBad, err)
	}
	if !errors.Is(err, registry.ErrTimeout) {
		b.Fatalf("want a connect timeout, got: %v", err)
	}
}

// rollbackMS expresses d in milliseconds.
func rollbackMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
