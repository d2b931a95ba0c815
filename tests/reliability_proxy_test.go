package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// proxied is a registry whose main database goes through a TCP proxy to
// PostgreSQL and whose extra "direct" is the same database, reached
// directly: a healthy database whose count shows the rollback.
type proxied struct {
	p      *testdb.Proxy
	reg    *registry.Registry
	main   *registry.Database
	direct *registry.Database
	app    string // application_name of the proxied sessions
}

func proxySetup(t *testing.T, params ...string) proxied {
	t.Helper()
	good := testdb.NewPostgresDatabase(t)
	p := testdb.StartProxy(t, hostPort(t, good))
	app := appName("proxy")
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: withParams(t, p.DSN(t, good), append([]string{"application_name", app}, params...)...),
		Extra:    map[string]string{"direct": good},
	})
	// Heal the network before the registry closes (cleanups run last
	// first), so that Close measures the library, not a silent network.
	t.Cleanup(p.Pass)
	direct, err := reg.Extra("direct")
	require.NoError(t, err)
	return proxied{p: p, reg: reg, main: reg.Database(), direct: direct, app: app}
}

func connectDB(db *registry.Database) func(context.Context) error {
	return func(ctx context.Context) error { _, err := db.Connect(ctx); return err }
}

// parallel runs f(0..n-1) in goroutines and waits for them (failing the
// test if they hang).
func parallel(t *testing.T, n int, f func(w int)) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() { defer wg.Done(); f(w) }()
	}
	waitGroup(t, &wg, 2*time.Minute, "parallel operations")
}

// c1. The proxy refuses (resets) every connection: Connect fails fast with a
// *ConnectError for the main database only, and the healthy extra is rolled
// back every time; once the proxy passes again, everything connects.
func TestReliabilityProxyRefuse(t *testing.T) {
	s := newScenario(t, "proxy-refuse")
	x := proxySetup(t, "connect_timeout", "5")
	x.p.Refuse()

	for i := range 10 {
		start := time.Now()
		err := s.do(fmt.Sprintf("reg.Connect #%d", i), 10*time.Second, registryTyped, x.reg.Connect)
		require.Less(t, time.Since(start), 2*time.Second, "a refused connect fails fast")
		require.ErrorIs(t, err, registry.ErrConnectFailed)
		require.Equal(t, []string{""}, connectErrorsOf(err), "only the main database failed: %v", err)
		s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})
	}
	for i := range 5 {
		start := time.Now()
		err := s.do(fmt.Sprintf("main.Connect #%d", i), 10*time.Second, registryTyped, connectDB(x.main))
		require.Less(t, time.Since(start), 2*time.Second, "a refused connect fails fast")
		require.ErrorIs(t, err, registry.ErrConnectFailed)
		require.Equal(t, []string{""}, connectErrorsOf(err))
	}
	s.fault(int(x.p.Accepted())) // every connection the proxy reset
	require.GreaterOrEqual(t, x.p.Accepted(), int64(15), "every attempt reached the proxy")
	s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})

	x.healed(t, s, true)
}

// c2. The proxy delays every chunk: a connect is bounded by the caller's
// deadline and by connect_timeout in the URL, and rolls the healthy extra
// back; queries are bounded by their deadline; a merely slow network works.
func TestReliabilityProxyDelay(t *testing.T) {
	s := newScenario(t, "proxy-delay")
	x := proxySetup(t, "connect_timeout", "1")

	// The startup handshake alone takes two chunks: 2 s at 1 s per chunk.
	x.p.Delay(time.Second)
	const short = 500 * time.Millisecond
	for i := range 3 {
		start := time.Now()
		err := s.do(fmt.Sprintf("reg.Connect ctx %v #%d", short, i), short, registryTyped, x.reg.Connect)
		s.fault(1)
		require.Less(t, time.Since(start), short+hangMargin, "bounded by the caller's deadline")
		require.ErrorIs(t, err, registry.ErrTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})
	}
	for i := range 3 {
		start := time.Now()
		err := s.do(fmt.Sprintf("reg.Connect connect_timeout=1 #%d", i), 10*time.Second, registryTyped, x.reg.Connect)
		s.fault(1)
		require.Less(t, time.Since(start), time.Second+hangMargin, "bounded by connect_timeout=1")
		require.ErrorIs(t, err, registry.ErrTimeout)
		require.Equal(t, []string{""}, connectErrorsOf(err), "only the main database failed: %v", err)
		s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})
	}

	// A slow network within every bound works.
	x.p.Delay(20 * time.Millisecond)
	require.NoError(t, s.do("reg.Connect slow", 10*time.Second, registryTyped, x.reg.Connect))
	before := statuses(t, x.reg)
	s.requireRefCounts(x.reg, map[string]int{"": 1, "direct": 1})

	// Queries slower than their deadline end by it, with a timeout.
	x.p.Delay(2 * time.Second)
	const k = 4
	parallel(t, k, func(w int) {
		err := s.do(fmt.Sprintf("query w%d delayed", w), short, queryTyped, func(ctx context.Context) error {
			return query(ctx, x.main, w%2 == 0)
		})
		s.fault(1)
		if kind, _ := queryTyped(err); kind != "timeout" {
			t.Errorf("query w%d: want a timeout, got %v", w, err)
		}
	})
	x.p.Pass()
	parallel(t, k, func(w int) {
		err := s.do(fmt.Sprintf("query w%d healed", w), 10*time.Second, queryTyped, func(ctx context.Context) error {
			return query(ctx, x.main, w%2 == 0)
		})
		if err != nil {
			t.Errorf("query w%d after the delay: %v", w, err)
		}
	})
	s.requireCounts(x.reg, before)
	require.NoError(t, s.do("reg.Disconnect", 30*time.Second, registryTyped, x.reg.Disconnect))
	s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})
	s.finish()
}

// activeQueries counts the sessions of app running a query that contains
// tag (-1 on error).
func activeQueries(admin *pgx.Conn, app, tag string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := admin.QueryRow(ctx, `
		SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND state = 'active' AND strpos(query, $2) > 0
		  AND pid <> pg_backend_pid()`, app, tag).Scan(&n); err != nil {
		return -1
	}
	return n
}

// c3. The proxy cuts every connection while queries run on them: each
// query in flight fails at once with a typed error — through the pool and
// through the *sql.DB alike, never run a second time — and the next
// queries go through again; 5 rounds, counts unchanged. Then a statement
// whose reply the cut loses must not be executed twice.
func TestReliabilityProxyCut(t *testing.T) {
	s := newScenario(t, "proxy-cut")
	// The server notices a cut client within 100 ms instead of at the end
	// of its pg_sleep: the shared server's connections are not hoarded.
	x := proxySetup(t, "client_connection_check_interval", "100")
	admin := adminConn(t)
	require.NoError(t, s.do("reg.Connect", 10*time.Second, registryTyped, x.reg.Connect))
	before := statuses(t, x.reg)

	const k, rounds = 4, 5 // k ≤ the pool's default size, max(4, GOMAXPROCS)
	for r := range rounds {
		type result struct {
			w   int
			err error
			at  time.Time
		}
		results := make(chan result, k)
		// Tagged per round: a backend of an earlier round that has not
		// noticed its cut yet is not counted as running.
		tag := fmt.Sprintf("/* cut round %d */", r)
		sql := "SELECT pg_sleep(2) " + tag
		var wg sync.WaitGroup
		for w := range k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.do(fmt.Sprintf("round %d: long query w%d", r, w), 30*time.Second, queryTyped,
					func(ctx context.Context) error {
						if w%2 == 0 {
							_, err := x.main.Pool().Exec(ctx, sql)
							return err
						}
						_, err := x.main.DB().ExecContext(ctx, sql)
						return err
					})
				results <- result{w: w, err: err, at: time.Now()}
			}()
		}
		require.Eventually(t, func() bool { return activeQueries(admin, x.app, tag) == k }, 30*time.Second, 5*time.Millisecond,
			"round %d: %d queries running on the server", r, k)
		t.Logf("round %d: %d queries running", r, k)
		cutAt := time.Now()
		cut := x.p.Cut()
		s.fault(cut)
		require.GreaterOrEqual(t, cut, k)
		waitGroup(t, &wg, time.Minute, "queries in flight at the cut")
		close(results)
		for res := range results {
			via := map[bool]string{true: "Pool()", false: "DB()"}[res.w%2 == 0]
			if res.err == nil {
				t.Errorf("round %d: a query through %s in flight at the cut succeeded %v later: "+
					"it was run again on a new connection instead of failing", r, via, res.at.Sub(cutAt).Round(time.Millisecond))
				continue
			}
			if d := res.at.Sub(cutAt); d > hangMargin {
				t.Errorf("round %d: a query through %s failed %v after the cut, not at once: %v", r, via, d, res.err)
			}
		}
		// Then queries go through again (idle connections that were cut
		// may fail first, once each).
		parallel(t, k, func(w int) {
			for attempt := 0; ; attempt++ {
				err := s.do(fmt.Sprintf("round %d: query w%d after the cut", r, w), 10*time.Second, queryTyped,
					func(ctx context.Context) error { return query(ctx, x.main, w%2 == 0) })
				if err == nil {
					return
				}
				if attempt == 20 {
					t.Errorf("round %d: worker %d: no successful query after the cut: %v", r, w, err)
					return
				}
			}
		})
	}
	s.requireCounts(x.reg, before)

	// A statement the server committed but whose reply the cut lost fails
	// with a typed error; it is never executed a second time.
	_, err := x.main.Pool().Exec(bounded(t, 10*time.Second), "CREATE TABLE cut_once (via text)")
	require.NoError(t, err)
	rows := func(via string) int { // counted through the direct connection; -1 on error
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var n int
		if err := x.direct.Pool().QueryRow(ctx, "SELECT count(*) FROM cut_once WHERE via = $1", via).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	for _, c := range []struct {
		viaPool, args bool
	}{{true, false}, {false, false}, {true, true}, {false, true}} {
		viaPool := c.viaPool
		via := map[bool]string{true: "Pool()", false: "DB()"}[viaPool] +
			map[bool]string{true: " with a parameter", false: " without parameters"}[c.args]
		// Connections the earlier cuts broke fail once each, before they
		// send anything: use them up, so the INSERT starts on a live one.
		for attempt := 0; ; attempt++ {
			err := s.do("query before the INSERT via "+via, 10*time.Second, queryTyped,
				func(ctx context.Context) error { return query(ctx, x.main, viaPool) })
			if err == nil {
				break
			}
			require.Less(t, attempt, 20, "no successful query via %s: %v", via, err)
		}
		x.p.Delay(300 * time.Millisecond) // the reply waits at the proxy: time to cut it
		done := make(chan error, 1)
		go func() {
			done <- s.do("INSERT cut after commit via "+via, 30*time.Second, queryTyped, func(ctx context.Context) error {
				// Without parameters pgx uses the simple protocol, with
				// them the extended one.
				sql, args := "INSERT INTO cut_once VALUES ($1)", []any{via}
				if !c.args {
					sql, args = "INSERT INTO cut_once VALUES ('"+via+"')", nil
				}
				if viaPool {
					_, err := x.main.Pool().Exec(ctx, sql, args...)
					return err
				}
				_, err := x.main.DB().ExecContext(ctx, sql, args...)
				return err
			})
		}()
		var (
			err      error
			finished bool
		)
		require.Eventually(t, func() bool {
			select {
			case err = <-done:
				finished = true
				return true
			default:
				return rows(via) == 1
			}
		}, 30*time.Second, 2*time.Millisecond)
		require.False(t, finished, "INSERT via %s returned before the cut: %v", via, err)
		s.fault(x.p.Cut())
		x.p.Pass()
		select {
		case err = <-done:
		case <-bounded(t, time.Minute).Done():
			t.Fatalf("INSERT via %s: no result", via)
		}
		if n := rows(via); n != 1 {
			t.Errorf("INSERT via %s, whose reply the cut lost, was executed %d times (its result: %v)", via, n, err)
		} else if err == nil {
			// Only if the reply got through before the cut (a very slow run).
			t.Logf("INSERT via %s succeeded once: its reply beat the cut", via)
		}
	}

	require.NoError(t, s.do("reg.Disconnect", 30*time.Second, registryTyped, x.reg.Disconnect))
	s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})
	s.finish()
}

// c4. The network goes silent (the proxy blackholes): queries end by their
// deadline, Disconnect still completes, a Connect with a 2 s deadline
// returns by it with a timeout and rolls the healthy extra back; when the
// network heals, everything works again.
func TestReliabilityProxyBlackhole(t *testing.T) {
	s := newScenario(t, "proxy-blackhole")
	x := proxySetup(t)
	require.NoError(t, s.do("reg.Connect", 10*time.Second, registryTyped, x.reg.Connect))

	x.p.Blackhole()
	const k = 4
	parallel(t, k, func(w int) {
		err := s.do(fmt.Sprintf("query w%d into silence", w), time.Second, queryTyped, func(ctx context.Context) error {
			return query(ctx, x.main, w%2 == 0)
		})
		s.fault(1)
		if kind, _ := queryTyped(err); kind != "timeout" {
			t.Errorf("query w%d: want a timeout, got %v", w, err)
		}
	})

	// Disconnect completes although the main database's server is silent:
	// the count goes to 0 and the pool is handed back at once (pgx may
	// still be closing connections it must cancel: ErrDisconnectFailed).
	const disconnectLimit = 3 * time.Second
	start := time.Now()
	err := s.do("reg.Disconnect into silence", disconnectLimit, registryTyped, x.reg.Disconnect)
	require.Less(t, time.Since(start), disconnectLimit+hangMargin)
	if err != nil {
		// The main database's pool is still closing: a DisconnectError
		// (ErrDisconnectFailed, or ErrTimeout as its deadline cut it short).
		t.Logf("Disconnect while silent: %v", err)
		require.True(t, errors.Is(err, registry.ErrDisconnectFailed) || errors.Is(err, registry.ErrTimeout), "%v", err)
	}
	s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})

	const limit = 2 * time.Second
	for i := range 2 {
		start := time.Now()
		err := s.do(fmt.Sprintf("reg.Connect into silence #%d", i), limit, registryTyped, x.reg.Connect)
		s.fault(1)
		require.Less(t, time.Since(start), limit+hangMargin, "bounded by the 2 s deadline")
		require.ErrorIs(t, err, registry.ErrTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})
	}
	start = time.Now()
	err = s.do("main.Connect into silence", limit, registryTyped, connectDB(x.main))
	s.fault(1)
	require.Less(t, time.Since(start), limit+hangMargin)
	require.ErrorIs(t, err, registry.ErrTimeout)
	s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})

	x.healed(t, s, false)
}

// healed lets the proxy pass again and checks that the registry connects,
// queries (through Pool() or DB()) and disconnects as if nothing happened.
func (x *proxied) healed(t *testing.T, s *scenario, viaPool bool) {
	t.Helper()
	x.p.Pass()
	require.NoError(t, s.do("reg.Connect healed", 10*time.Second, registryTyped, x.reg.Connect))
	s.requireRefCounts(x.reg, map[string]int{"": 1, "direct": 1})
	require.NoError(t, s.do("query healed", 10*time.Second, queryTyped, func(ctx context.Context) error {
		return query(ctx, x.main, viaPool)
	}))
	require.NoError(t, s.do("reg.Disconnect healed", 30*time.Second, registryTyped, x.reg.Disconnect))
	s.requireRefCounts(x.reg, map[string]int{"": 0, "direct": 0})
	s.finish()
}
