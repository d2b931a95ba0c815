package tests

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// workers runs n goroutines calling body(worker, iteration) until stop is
// called; stop waits for them (failing the test if they hang) and is safe to
// call twice. The test's cleanup calls it too, so workers never outlive a
// failed test.
func workers(t *testing.T, n int, body func(w, i int)) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				body(w, i)
			}
		}()
	}
	stop = sync.OnceFunc(func() {
		close(done)
		waitGroup(t, &wg, 2*time.Minute, "workers")
	})
	t.Cleanup(stop)
	return stop
}

func bounded(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// a. A throwaway PostgreSQL cluster is stopped and restarted while 16
// goroutines query through the registry's pool and *sql.DB: every failure
// is typed, nothing succeeds while the server is down, every goroutine gets
// through again after the restart, on the same pool, and the ref counts
// have not moved.
func TestReliabilityClusterRestart(t *testing.T) {
	s := newScenario(t, "cluster-restart")
	c := testdb.StartCluster(t, testdb.ClusterOptions{})
	dsn := withParams(t, c.DSN(""), "application_name", appName("restart"), "connect_timeout", "2")
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: dsn,
		Extra:    map[string]string{"side": sqliteURL(t, "side")},
	})
	ctx := bounded(t, 30*time.Second)
	require.NoError(t, reg.Connect(ctx))
	before := statuses(t, reg)
	main := reg.Database()
	pool := main.Pool()

	const (
		phaseUp int32 = iota
		phaseStopping
		phaseDown
		phaseStarting
		phaseRestarted
	)
	const n = 16
	var (
		phase                          atomic.Int32
		warm, outage, recovered        = newLatch(n), newLatch(n), newLatch(n)
		onceWarm, onceOutage, onceBack [n]sync.Once
		upWhileDown                    atomic.Int64
	)
	stop := workers(t, n, func(w, i int) {
		started := phase.Load()
		err := s.do(fmt.Sprintf("query w%d #%d", w, i), 5*time.Second, queryTyped, func(ctx context.Context) error {
			return query(ctx, main, (w+i)%2 == 0)
		})
		ended := phase.Load()
		switch {
		case err == nil && started == phaseUp:
			onceWarm[w].Do(warm.arrive)
		case err == nil && started == phaseDown && ended == phaseDown:
			upWhileDown.Add(1) // impossible: the server was down throughout
		case err == nil && started == phaseRestarted:
			onceBack[w].Do(recovered.arrive)
		case err != nil && started == phaseDown:
			onceOutage[w].Do(outage.arrive)
		}
	})

	warm.await(t, 30*time.Second, "first query of every goroutine")
	phase.Store(phaseStopping)
	c.Stop(t)
	s.fault(1)
	phase.Store(phaseDown)
	outage.await(t, 30*time.Second, "a failed query per goroutine while the server is down")
	phase.Store(phaseStarting)
	c.Start(t)
	phase.Store(phaseRestarted)
	recovered.await(t, time.Minute, "a successful query per goroutine after the restart")
	stop()

	require.Zero(t, upWhileDown.Load(), "no query succeeds while the server is down")
	s.requireCounts(reg, before)
	require.Same(t, pool, main.Pool(), "the same pool serves again")
	require.NoError(t, reg.Disconnect(ctx))
	s.requireRefCounts(reg, map[string]int{"": 0, "side": 0})
	s.finish()
}

// terminate ends every session whose application_name starts with prefix
// and reports how many it signalled.
func terminate(t *testing.T, admin *pgx.Conn, prefix string) int {
	t.Helper()
	var n int
	err := admin.QueryRow(bounded(t, 30*time.Second), `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity
		WHERE left(application_name, length($1)) = $1 AND pid <> pg_backend_pid()`, prefix).Scan(&n)
	require.NoError(t, err)
	return n
}

// sessions counts the sessions whose application_name starts with prefix
// (-1 if the query fails). Safe in a require.Eventually condition.
func sessions(admin *pgx.Conn, prefix string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := admin.QueryRow(ctx, `
		SELECT count(*) FROM pg_stat_activity
		WHERE left(application_name, length($1)) = $1 AND pid <> pg_backend_pid()`, prefix).Scan(&n); err != nil {
		return -1
	}
	return n
}

func adminConn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(bounded(t, 30*time.Second), testdb.PostgresDSN(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(bounded(t, 10*time.Second)) })
	return conn
}

// b. Every session of the registry's pools is terminated with
// pg_terminate_backend, 20 times, while goroutines query: after each round
// every goroutine gets a query through again, and the ref counts have not
// moved.
func TestReliabilityTerminateBackends(t *testing.T) {
	s := newScenario(t, "terminate-backend")
	base := testdb.NewPostgresDatabase(t)
	app := appName("term")
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: withParams(t, base, "application_name", app+"_main"),
		Extra:    map[string]string{"replica": withParams(t, base, "application_name", app+"_replica")},
	})
	admin := adminConn(t)
	ctx := bounded(t, 30*time.Second)
	require.NoError(t, reg.Connect(ctx))
	before := statuses(t, reg)
	dbs := reg.Databases()

	const n, rounds = 8, 20
	var round atomic.Int64
	latches := make([]*latch, rounds+1) // [0]: warm; [r]: recovered from round r
	for r := range latches {
		latches[r] = newLatch(n)
	}
	var last [n]int64 // per worker: the last round it recovered from
	for w := range last {
		last[w] = -1
	}
	stop := workers(t, n, func(w, i int) {
		started := round.Load()
		db := dbs[(w/2)%len(dbs)]
		err := s.do(fmt.Sprintf("query w%d #%d", w, i), 5*time.Second, queryTyped, func(ctx context.Context) error {
			return query(ctx, db, (w+i)%2 == 0)
		})
		if err == nil && started > last[w] {
			last[w] = started
			latches[started].arrive()
		}
	})

	latches[0].await(t, 30*time.Second, "first query of every goroutine")
	for r := 1; r <= rounds; r++ {
		killed := terminate(t, admin, app)
		require.Positive(t, killed, "round %d: the pools had sessions to terminate", r)
		s.fault(killed)
		round.Store(int64(r))
		latches[r].await(t, 30*time.Second, fmt.Sprintf("round %d: a successful query per goroutine", r))
	}
	stop()

	s.requireCounts(reg, before)
	require.NoError(t, reg.Disconnect(ctx))
	s.requireRefCounts(reg, map[string]int{"": 0, "replica": 0})
	require.Eventually(t, func() bool { return sessions(admin, app) == 0 }, 30*time.Second, 20*time.Millisecond,
		"closing the pools ended every session")
	s.finish()
}
