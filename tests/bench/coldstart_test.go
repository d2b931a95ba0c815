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
// PostgreSQL databases and their shutdown.
//
//   - dbactor: reg.Connect (every database actor opens its pgxpool and pings
//     it, concurrently) then reg.Disconnect (every count 1→0, every pool
//     closed before Disconnect returns), on a registry made once. Each op
//     checks that every pool is gone again, so every Connect is cold.
//   - reference: the same 17 pool configurations opened one by one
//     (pgxpool.NewWithConfig + Ping, as the database actor does, the URL
//     parsed once beforehand), then closed one by one.
//
// All 17 URLs name the server database of DBACTOR_TEST_DATABASE with a
// distinct application_name, so every pool dials and authenticates its own
// connection. pgxpool's MinConns stays 0: a cold open is exactly one
// dial + startup + ping per pool on both sides. Target: reference ns/op ÷
// dbactor ns/op ≥ 4.
//
// With the server on the same machine the reference is CPU-bound, not
// latency-bound: a PostgreSQL backend costs the server a few milliseconds
// of CPU to fork, initialise and exit, so connecting concurrently can gain
// at most about as many times as there are cores to run backends on.
//
// Both sides connect through testdb's TCP proxy, which holds every chunk
// for 2 ms: a server on another host. BenchmarkLoopbackColdStart measures
// the same on loopback, where it is bound by the server's CPU (report only,
// see docs/benchmarks.md).
func BenchmarkP3ColdStart(b *testing.B) {
	base := testdb.PostgresDSN(b)
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		b.Skip("needs a postgres:// URL in DBACTOR_TEST_DATABASE to put a proxy in front of")
	}
	proxy := testdb.StartProxy(b, u.Host)
	proxy.Delay(2 * time.Millisecond)
	coldstart(b, base, proxy.DSN(b, base))
}

// BenchmarkLoopbackColdStart is P3 with the server on this machine's
// loopback: no target (its ID is no P<n>), reported for the record.
func BenchmarkLoopbackColdStart(b *testing.B) {
	base := testdb.PostgresDSN(b)
	coldstart(b, base, base)
}

// coldstart measures P3: base counts the sessions, via is the URL the pools
// dial.
func coldstart(b *testing.B, base, via string) {
	urls := make([]string, coldstartDatabases)
	for i := range urls {
		urls[i] = coldstartURL(b, via, map[string]string{
			"application_name": fmt.Sprintf("%s%02d", coldstartApp, i),
			"connect_timeout":  "10",
		})
	}

	b.Run("dbactor", func(b *testing.B) {
		extra := make(map[string]string, len(urls)-1)
		for i, u := range urls[1:] {
			extra[fmt.Sprintf("x%02d", i+1)] = u
		}
		reg, err := registry.New(nil, registry.Config{Database: urls[0], Extra: extra})
		if err != nil {
			b.Fatal(err)
		}
		defer coldstartClose(b, reg)
		dbs := reg.Databases()
		ctx := context.Background() // registry.DefaultTimeout bounds every call

		b.ReportAllocs()
		for b.Loop() {
			if err := reg.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			if err := reg.Disconnect(ctx); err != nil {
				b.Fatal(err)
			}
			for _, db := range dbs {
				if db.Pool() != nil || db.DB() != nil {
					b.Fatalf("%s is still open after Disconnect: the next Connect would not be cold", db)
				}
			}
		}
		b.ReportMetric(coldstartDatabases, "pools/op")
		coldstartNoSessions(b, base, coldstartApp)
	})

	b.Run("reference", func(b *testing.B) {
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
		pools := make([]*pgxpool.Pool, len(cfgs))
		ctx := context.Background()

		b.ReportAllocs()
		for b.Loop() {
			for i, cfg := range cfgs {
				pool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
				if err != nil {
					b.Fatal(err)
				}
				if err := pool.Ping(ctx); err != nil {
					pool.Close()
					b.Fatal(err)
				}
				pools[i] = pool
			}
			for i, pool := range pools {
				pool.Close()
				pools[i] = nil
			}
		}
		b.ReportMetric(coldstartDatabases, "pools/op")
		coldstartNoSessions(b, base, coldstartApp)
	})
}

// coldstartURL returns dsn (URL or libpq key=value form) with params set.
func coldstartURL(b *testing.B, dsn string, params map[string]string) string {
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
