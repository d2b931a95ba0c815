package tests

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// Health detection targets (issue 15), with the default HealthOptions.
const (
	toDegradedTarget = 1500 * time.Millisecond
	toHealthyTarget  = time.Second
)

// strictHealth: make reliability sets DBACTOR_RELIABILITY=1, and then the
// detection targets must hold; under make test the same scenarios run with
// the behaviour checked (down, then up, no false alarm) and the figures
// only reported, as timing on a shared machine is not a unit test's verdict.
func strictHealth() bool { return os.Getenv("DBACTOR_RELIABILITY") == "1" }

// healthWatch follows one registry's DatabaseDown and DatabaseUp events.
type healthWatch struct {
	down, up chan messages.Event
	downs    atomic.Int32
}

func newHealthWatch() (*healthWatch, registry.Option) {
	w := &healthWatch{down: make(chan messages.Event, 64), up: make(chan messages.Event, 64)}
	return w, registry.WithEventHook(func(ev messages.Event) {
		switch ev.(type) {
		case *messages.DatabaseDown:
			w.downs.Add(1)
			w.down <- ev
		case *messages.DatabaseUp:
			w.up <- ev
		}
	})
}

func (w *healthWatch) wait(t *testing.T, ch chan messages.Event, within time.Duration, what string) messages.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(within):
		t.Fatalf("no %s within %s", what, within)
		return nil
	}
}

// healthRow prints one HEALTH line for scripts/reliability-table.sh:
// scenario, load, time to degraded, time to healthy, false alarms, and
// whether the targets hold.
func healthRow(name, load string, toDegraded, toHealthy time.Duration, falseAlarms int32) bool {
	ok := falseAlarms == 0 && toDegraded <= toDegradedTarget && toHealthy <= toHealthyTarget
	verdict := "pass"
	if !ok {
		verdict = "FAIL"
	}
	ms := func(d time.Duration) string {
		if d < 0 {
			return "-"
		}
		return fmt.Sprint(d.Milliseconds())
	}
	fmt.Printf("HEALTH|%s|%s|%s|%s|%d|%s\n", name, load, ms(toDegraded), ms(toHealthy), falseAlarms, verdict)
	return ok
}

// loadOn runs 16 goroutines querying db's pool until stop; each query is
// bounded, so a frozen server holds them for at most 3 s.
func loadOn(t *testing.T, db *registry.Database) (stop func(), queries *atomic.Int64) {
	queries = new(atomic.Int64)
	stop = workers(t, 16, func(_, _ int) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if pool := db.Pool(); pool != nil {
			var one int
			if pool.QueryRow(ctx, "SELECT 1").Scan(&one) == nil {
				queries.Add(1)
			}
		}
	})
	return stop, queries
}

// TestReliabilityHealth takes a throwaway PostgreSQL server down under a
// connected registry with the default health options — frozen (SIGSTOP on
// every server process: connections stay open, nothing answers) or stopped
// — idle and under load, and measures how long the database takes to turn
// degraded after the fault and healthy again after the server is back.
// Targets: degraded within 1.5 s, healthy within 1 s of recovery.
func TestReliabilityHealth(t *testing.T) {
	for _, fault := range []string{"freeze", "stop"} {
		for _, load := range []string{"idle", "loaded"} {
			t.Run(fault+"-"+load, func(t *testing.T) {
				s := newScenario(t, "health-"+fault+"-"+load)
				c := testdb.StartCluster(t, testdb.ClusterOptions{})
				w, hook := newHealthWatch()
				reg := newRegistry(t, newSystem(t), registry.Config{
					Database: withParams(t, c.DSN(""), "application_name", appName("health"), "connect_timeout", "2"),
				}, hook)
				ctx := bounded(t, 2*time.Minute)
				require.NoError(t, reg.Connect(ctx))
				db := reg.Database()
				var served *atomic.Int64
				stop := func() {}
				if load == "loaded" {
					stop, served = loadOn(t, db)
					require.Eventually(t, func() bool { return served.Load() > 100 }, 30*time.Second, time.Millisecond, "load running")
				}

				s.fault(1)
				start := time.Now()
				if fault == "freeze" {
					c.Freeze(t)
				} else {
					c.Stop(t)
				}
				down := w.wait(t, w.down, 30*time.Second, "DatabaseDown").(*messages.DatabaseDown)
				toDegraded := down.GetSince().AsTime().Sub(start)
				st, err := db.Status(ctx)
				require.NoError(t, err)
				require.Equal(t, client.Degraded, st.Health)

				// The outage lasts 3 s: no recovery is reported meanwhile.
				select {
				case ev := <-w.up:
					t.Fatalf("recovered while the server is still down: %v", ev)
				case <-time.After(3 * time.Second):
				}

				if fault == "freeze" {
					c.Thaw(t)
				} else {
					c.Start(t) // returns once the server accepts connections
				}
				back := time.Now()
				up := w.wait(t, w.up, 30*time.Second, "DatabaseUp").(*messages.DatabaseUp)
				toHealthy := max(up.GetAt().AsTime().Sub(back), 0)
				if load == "loaded" {
					before := served.Load()
					require.Eventually(t, func() bool { return served.Load() > before+100 }, 30*time.Second, time.Millisecond, "queries served again")
				}
				stop()
				require.EqualValues(t, 1, w.downs.Load(), "one outage, one DatabaseDown")
				st, err = db.Status(ctx)
				require.NoError(t, err)
				require.Equal(t, client.Healthy, st.Health)
				s.requireRefCounts(reg, map[string]int{"": 1}) // an outage moves no count
				require.NoError(t, reg.Disconnect(ctx))

				ok := healthRow(fault, load, toDegraded, toHealthy, 0)
				t.Logf("%s/%s: degraded after %s, healthy %s after the server was back", fault, load, toDegraded, toHealthy)
				if strictHealth() {
					require.True(t, ok, "targets: degraded within %s (took %s), healthy within %s (took %s)", toDegradedTarget, toDegraded, toHealthyTarget, toHealthy)
				}
			})
		}
	}

	// The control: a loaded server that nothing happens to is never
	// reported degraded (60 s under make reliability, 5 s otherwise).
	t.Run("control", func(t *testing.T) {
		s := newScenario(t, "health-control")
		w, hook := newHealthWatch()
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: withParams(t, testdb.PostgresDSN(t), "application_name", appName("health-control")),
		}, hook)
		ctx := bounded(t, 3*time.Minute)
		require.NoError(t, reg.Connect(ctx))
		stop, served := loadOn(t, reg.Database())
		run := 5 * time.Second
		if strictHealth() {
			run = 60 * time.Second
		}
		select {
		case ev := <-w.down:
			t.Errorf("a false alarm: %v", ev)
		case <-time.After(run):
		}
		stop()
		s.attempted.Add(served.Load())
		s.succeeded.Add(served.Load())
		require.Positive(t, served.Load())
		s.requireRefCounts(reg, map[string]int{"": 1})
		require.NoError(t, reg.Disconnect(ctx))
		require.True(t, healthRow("none", fmt.Sprintf("loaded %s", run), -1, -1, w.downs.Load()))
	})
}
