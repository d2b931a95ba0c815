package bench

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// coldstartDatabases is the size of the registries of P3 and P4: a main
// database and 16 extras.
const coldstartDatabases = 1 + 16

// coldstartApp prefixes the application_name of every P3 pool, so that each
// pool is told apart on the server and the benchmark can count its sessions.
const coldstartApp = "dbactor_bench_p3_"

// BenchmarkP3ColdStart (target P3): one op is a cold start of 1 + 16
// PostgreSQL databases and their shutdown, measured as a pair (see pair):
//
//   - dbactor: reg.Connect (every database actor opens its pgxpool and pings
//     it, concurrently) then reg.Disconnect (every count 1→0, every pool
//     closed before Disconnect returns), on a registry made once. Each op
//     checks that every pool is gone again, so every Connect is cold.
//   - reference: what a Go developer would write instead — the same 17
//     pool configurations opened concurrently (an errgroup of
//     pgxpool.NewWithConfig + Ping, the URLs parsed once beforehand), then
//     closed.
//
// All 17 URLs name the server database of DBACTOR_TEST_DATABASE with a
// distinct application_name, so every pool dials and authenticates its own
// connection. pgxpool's MinConns stays 0: a cold open is exactly one
// dial + startup + ping per pool on both sides. Target: dbactor ÷
// reference ≤ 1.15, through testdb's TCP proxy holding every chunk for
// 2 ms (a server on another host) and on loopback
// (BenchmarkP3LoopbackColdStart). BenchmarkSequentialColdStart reports the
// pools opened one by one, for the record.
func BenchmarkP3ColdStart(b *testing.B) {
	base := testdb.PostgresDSN(b)
	coldstartPair(b, base, proxied(b, base))
}

// BenchmarkP3LoopbackColdStart is P3 with the server on this machine's
// loopback, where it is bound by the server's CPU.
func BenchmarkP3LoopbackColdStart(b *testing.B) {
	base := testdb.PostgresDSN(b)
	coldstartPair(b, base, base)
}

// BenchmarkSequentialColdStart opens the 17 pools one by one (report only:
// no target) through the proxy.
func BenchmarkSequentialColdStart(b *testing.B) {
	base := testdb.PostgresDSN(b)
	cfgs := coldstartConfigs(b, coldstartURLs(b, proxied(b, base)))
	b.ReportAllocs()
	for b.Loop() {
		pools := make([]*pgxpool.Pool, 0, len(cfgs))
		for _, cfg := range cfgs {
			pool, err := openPinged(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			pools = append(pools, pool)
		}
		for _, pool := range pools {
			pool.Close()
		}
	}
	b.ReportMetric(coldstartDatabases, "pools/op")
	coldstartNoSessions(b, base, coldstartApp)
}

// proxied is base through a new testdb proxy that delays every chunk by
// 2 ms.
func proxied(b *testing.B, base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		b.Skip("needs a postgres:// URL in DBACTOR_TEST_DATABASE to put a proxy in front of")
	}
	proxy := testdb.StartProxy(b, u.Host)
	proxy.Delay(2 * time.Millisecond)
	return proxy.DSN(b, base)
}

// coldstartURLs are the 17 URLs of P3 on via, each with its own
// application_name.
func coldstartURLs(b *testing.B, via string) []string {
	urls := make([]string, coldstartDatabases)
	for i := range urls {
		urls[i] = coldstartURL(b, via, map[string]string{
			"application_name": fmt.Sprintf("%s%02d", coldstartApp, i),
			"connect_timeout":  "10",
		})
	}
	return urls
}

// coldstartConfigs parses urls once, as an application would at startup.
func coldstartConfigs(b *testing.B, urls []string) []*pgxpool.Config {
	cfgs := make([]*pgxpool.Config, len(urls))
	for i, u := range urls {
		cfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			b.Fatal(err)
		}
		if cfg.MinConns != 0 {
			b.Fatalf("MinConns = %d: a cold open must be one connection", cfg.MinConns)
		}
		cfgs[i] = cfg
	}
	return cfgs
}

// openPinged opens a pool and pings it, as the database actor does.
func openPinged(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// coldstartPair measures P3: base counts the sessions, via is the URL the
// pools dial. One round is one cold start on each side.
func coldstartPair(b *testing.B, base, via string) {
	urls := coldstartURLs(b, via)
	extra := make(map[string]string, len(urls)-1)
	for i, u := range urls[1:] {
		extra[fmt.Sprintf("x%02d", i+1)] = u
	}
	reg, err := registry.New(nil, registry.Config{Database: urls[0], Extra: extra}, registry.WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer coldstartClose(b, reg)
	dbs := reg.Databases()
	cfgs := coldstartConfigs(b, urls)

	own := func(n int) (time.Duration, error) {
		ctx := context.Background() // client.DefaultTimeout bounds every call
		start := time.Now()
		for range n {
			if err := reg.Connect(ctx); err != nil {
				return 0, err
			}
			if err := reg.Disconnect(ctx); err != nil {
				return 0, err
			}
			for _, db := range dbs {
				if db.Pool() != nil || db.DB() != nil {
					return 0, fmt.Errorf("%s is still open after Disconnect: the next Connect would not be cold", db)
				}
			}
		}
		return time.Since(start), nil
	}
	ref := func(n int) (time.Duration, error) {
		ctx := context.Background()
		start := time.Now()
		for range n {
			pools := make([]*pgxpool.Pool, len(cfgs))
			g, gctx := errgroup.WithContext(ctx)
			for i, cfg := range cfgs {
				g.Go(func() (err error) {
					pools[i], err = openPinged(gctx, cfg)
					return err
				})
			}
			err := g.Wait()
			for _, pool := range pools {
				if pool != nil {
					pool.Close()
				}
			}
			if err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
	pair(b, pairOptions{rounds: envInt("BENCH_P3_ROUNDS", 20), batch: 1}, own, ref)
	b.ReportMetric(coldstartDatabases, "pools/op")
	coldstartNoSessions(b, base, coldstartApp)
}

// coldstartURL returns dsn (URL or libpq key=value form) with params set.
func coldstartURL(b testing.TB, dsn string, params map[string]string) string {
	b.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			b.Fatal(err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params { // a later key overrides an earlier one
		dsn += " " + k + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	return dsn
}

// coldstartClose closes reg; the registry made its own actor system, which
// Close shuts down.
func coldstartClose(b *testing.B, reg *registry.Registry) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reg.Close(ctx); err != nil {
		b.Error(err)
	}
}

// coldstartSessions counts the server sessions whose application_name
// starts with prefix, waiting (up to 10 s) until there are none: a backend
// leaves pg_stat_activity a moment after its client hung up. It returns the
// count at the end, 0 if the sessions went.
func coldstartSessions(b *testing.B, base, prefix string) int {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, coldstartURL(b, base, map[string]string{"application_name": "dbactor_bench_monitor"}))
	if err != nil {
		b.Fatalf("connecting to count sessions: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int
	count := func() bool {
		err := conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE starts_with(application_name, $1)`, prefix).Scan(&n)
		if err != nil {
			b.Fatalf("counting sessions: %v", err)
		}
		return n == 0
	}
	coldstartEventually(10*time.Second, count)
	return n
}

// coldstartNoSessions fails the benchmark if sessions named prefix are left.
func coldstartNoSessions(b *testing.B, base, prefix string) {
	b.Helper()
	if n := coldstartSessions(b, base, prefix); n != 0 {
		b.Errorf("%d server sessions %s* still open 10 s after the pools closed", n, prefix)
	}
}

// coldstartEventually calls cond every 5 ms until it returns true or wait
// has passed, and reports whether it did (require.Eventually without a
// testing.T, and without a goroutine of its own).
func coldstartEventually(wait time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return true
			}
		case <-deadline.C:
			return cond()
		}
	}
}

// coldstartGoroutinesLeft waits (up to wait) until no more goroutines run
// than baseline and returns how many more there are then (0 when settled).
func coldstartGoroutinesLeft(baseline int, wait time.Duration) int {
	n := 0
	coldstartEventually(wait, func() bool {
		n = runtime.NumGoroutine() - baseline
		return n <= 0
	})
	return max(n, 0)
}
