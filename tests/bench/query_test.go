package bench

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dbactor/dbactor/registry"
)

// P1: the query path. A registry hands out the pool its database actor
// owns, so a query never passes through a mailbox: dbactor's figure must be
// within 2 % of a plain pgxpool.Pool (and of a plain *sql.DB on one) with
// the same settings, on the same database, measured in the same run.

const (
	// p1Rows is the size of the table of the indexed read.
	p1Rows = 5000
	// p1SelectOne and p1IndexedRead are the two queries.
	p1SelectOne   = "SELECT 1"
	p1IndexedRead = "SELECT id, qty, note FROM bench_items WHERE code = $1"
	// p1Parallelism × GOMAXPROCS goroutines query at once: more than the
	// pool has connections (pgxpool's default MaxConns is max(4, NumCPU)),
	// so every connection is always busy and the figure is the throughput
	// of the pool, bound by CPU. With one goroutine per core it would be
	// bound by wake-up latency instead, which on this 2-core VM swings by
	// a factor of 2-3 from run to run and hides a 2 % difference.
	p1Parallelism = 4
)

// p1Fixture is one database with the table of the indexed read, a
// connected registry on it, and a reference pool with the registry pool's
// settings. Both pools are open side by side for the whole benchmark, so
// the server serves the same number of connections in either measurement.
type p1Fixture struct {
	db      *registry.Database // dbactor: db.Pool(), db.DB()
	refPool *pgxpool.Pool      // reference: pgxpool.NewWithConfig
	refDB   *sql.DB            // reference: stdlib.OpenDBFromPool(refPool)
	codes   []string           // the keys of the indexed read
}

func p1Setup(b *testing.B) *p1Fixture {
	b.Helper()
	dsn := newPostgresDatabase(b)
	ctx := setupContext(b)

	reg := connectedRegistry(b, newActorSystem(b), registry.Config{Database: dsn})
	db := reg.Database()
	pool := db.Pool()
	if pool == nil || db.DB() == nil {
		b.Fatal("connected registry has no pool")
	}
	own := pool.Config()
	ref := newRawPool(b, dsn, func(c *pgxpool.Config) {
		// The registry keeps pgxpool's defaults unless the URL says
		// otherwise; copy what it chose, so a default it changes one day
		// changes the reference too.
		c.MaxConns, c.MinConns, c.MinIdleConns = own.MaxConns, own.MinConns, own.MinIdleConns
		c.MaxConnLifetime, c.MaxConnLifetimeJitter = own.MaxConnLifetime, own.MaxConnLifetimeJitter
		c.MaxConnIdleTime, c.HealthCheckPeriod, c.PingTimeout = own.MaxConnIdleTime, own.HealthCheckPeriod, own.PingTimeout
		c.ConnConfig.DefaultQueryExecMode = own.ConnConfig.DefaultQueryExecMode
		c.ConnConfig.StatementCacheCapacity = own.ConnConfig.StatementCacheCapacity
		c.ConnConfig.DescriptionCacheCapacity = own.ConnConfig.DescriptionCacheCapacity
	})
	if got, want := poolSettings(own), poolSettings(ref.Config()); got != want {
		b.Fatalf("pool settings differ:\n dbactor:   %s\n reference: %s", got, want)
	}
	if got, want := poolHooks(own), poolHooks(ref.Config()); got != want {
		// Not copied: a hook the registry installs is part of what P1
		// measures.
		b.Logf("pool hooks differ (dbactor's are measured):\n dbactor:   %s\n reference: %s", got, want)
	}
	refDB := stdlib.OpenDBFromPool(ref)
	b.Cleanup(func() { _ = refDB.Close() }) // closes its opener goroutine, not ref

	createItems(b, ref)
	f := &p1Fixture{db: db, refPool: ref, refDB: refDB, codes: itemCodes()}

	// Warm both the same way: every connection opened, and both statements
	// prepared on every connection (pgx caches them per connection).
	warm := func(p *pgxpool.Pool) {
		var conns []*pgxpool.Conn
		defer func() { // before a Fatal too: Close waits for every acquired connection
			for _, c := range conns {
				c.Release()
			}
		}()
		for range p.Config().MaxConns {
			c, err := p.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			var n int
			if err := c.QueryRow(ctx, p1SelectOne).Scan(&n); err != nil {
				b.Fatal(err)
			}
			var id int64
			var qty int
			var note string
			if err := c.QueryRow(ctx, p1IndexedRead, f.codes[0]).Scan(&id, &qty, &note); err != nil {
				b.Fatal(err)
			}
		}
	}
	warm(pool)
	warm(ref)
	return f
}

// createItems creates the table of the indexed read, with p1Rows rows and
// a unique index on code, through pool.
func createItems(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	ctx := setupContext(b)
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_items (
		id   bigint PRIMARY KEY,
		code text   NOT NULL,
		qty  int    NOT NULL,
		note text   NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO bench_items
		SELECT g, 'item-' || g, g % 97, repeat('x', 40) FROM generate_series(1, $1::int) AS g`, p1Rows); err != nil {
		b.Fatal(err)
	}
	for _, stmt := range []string{"CREATE UNIQUE INDEX bench_items_code ON bench_items (code)", "VACUUM ANALYZE bench_items"} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
}

// itemCodes are the keys of bench_items.
func itemCodes() []string {
	codes := make([]string, p1Rows)
	for i := range codes {
		codes[i] = fmt.Sprintf("item-%d", i+1)
	}
	return codes
}

// poolSettings lists the pool settings that matter for the query path.
func poolSettings(c *pgxpool.Config) string {
	var s strings.Builder
	fmt.Fprintf(&s, "MaxConns=%d MinConns=%d MinIdleConns=%d MaxConnLifetime=%s+%s MaxConnIdleTime=%s HealthCheckPeriod=%s PingTimeout=%s",
		c.MaxConns, c.MinConns, c.MinIdleConns, c.MaxConnLifetime, c.MaxConnLifetimeJitter, c.MaxConnIdleTime, c.HealthCheckPeriod, c.PingTimeout)
	cc := c.ConnConfig
	tracer := fmt.Sprintf("%T", cc.Tracer)
	if tracer == "actors.healthTracer" {
		// dbactor's own, on every pool: it tells the health loop of
		// statements that failed. What it costs a query (a call and a nil
		// check) is part of what P1 measures.
		tracer = "<nil>"
	}
	fmt.Fprintf(&s, " host=%s port=%d database=%s user=%s mode=%s stmtcache=%d desccache=%d tracer=%s",
		cc.Host, cc.Port, cc.Database, cc.User, cc.DefaultQueryExecMode, cc.StatementCacheCapacity, cc.DescriptionCacheCapacity, tracer)
	return s.String()
}

// poolHooks lists which of a pool's callbacks are set. The deprecated
// BeforeAcquire is left out: PrepareConn replaces it, nothing here or in
// pgx and otelpgx sets it, and staticcheck (make lint) rejects code that
// would.
func poolHooks(c *pgxpool.Config) string {
	return fmt.Sprintf("BeforeConnect=%t AfterConnect=%t PrepareConn=%t AfterRelease=%t BeforeClose=%t ShouldPing=%t",
		c.BeforeConnect != nil, c.AfterConnect != nil, c.PrepareConn != nil,
		c.AfterRelease != nil, c.BeforeClose != nil, c.ShouldPing != nil)
}

// p1Side runs query from p1Parallelism × GOMAXPROCS goroutines.
func p1Side(keys int, query func(ctx context.Context, key int) error) pairSide {
	return parallelBatch(p1Parallelism*runtime.GOMAXPROCS(0), keys, query)
}

// selectOnePool and indexedReadPool run the queries on the pool get returns.
// dbactor's get is db.Pool(), called for every query as a handler would.
func selectOnePool(get func() *pgxpool.Pool) func(context.Context, int) error {
	return func(ctx context.Context, _ int) error {
		var n int
		return get().QueryRow(ctx, p1SelectOne).Scan(&n)
	}
}

func indexedReadPool(get func() *pgxpool.Pool, codes []string) func(context.Context, int) error {
	return func(ctx context.Context, k int) error {
		var id int64
		var qty int
		var note string
		return get().QueryRow(ctx, p1IndexedRead, codes[k]).Scan(&id, &qty, &note)
	}
}

// selectOneSQL and indexedReadSQL are the same through database/sql.
func selectOneSQL(get func() *sql.DB) func(context.Context, int) error {
	return func(ctx context.Context, _ int) error {
		var n int
		return get().QueryRowContext(ctx, p1SelectOne).Scan(&n)
	}
}

func indexedReadSQL(get func() *sql.DB, codes []string) func(context.Context, int) error {
	return func(ctx context.Context, k int) error {
		var id int64
		var qty int
		var note string
		return get().QueryRowContext(ctx, p1IndexedRead, codes[k]).Scan(&id, &qty, &note)
	}
}

// BenchmarkP1SelectOne: parallel SELECT 1 through db.Pool() vs a plain
// pgxpool.Pool.
func BenchmarkP1SelectOne(b *testing.B) {
	f := p1Setup(b)
	pair(b, pairOptions{}, p1Side(1, selectOnePool(f.db.Pool)), p1Side(1, selectOnePool(f.refPoolGet)))
}

// BenchmarkP1IndexedRead: parallel lookups of one row by an indexed key
// (5000 rows) through db.Pool() vs a plain pgxpool.Pool.
func BenchmarkP1IndexedRead(b *testing.B) {
	f := p1Setup(b)
	pair(b, pairOptions{}, p1Side(len(f.codes), indexedReadPool(f.db.Pool, f.codes)), p1Side(len(f.codes), indexedReadPool(f.refPoolGet, f.codes)))
}

// BenchmarkP1SQLSelectOne: parallel SELECT 1 through db.DB() vs
// stdlib.OpenDBFromPool on a plain pool.
func BenchmarkP1SQLSelectOne(b *testing.B) {
	f := p1Setup(b)
	pair(b, pairOptions{}, p1Side(1, selectOneSQL(f.db.DB)), p1Side(1, selectOneSQL(f.refDBGet)))
}

// BenchmarkP1SQLIndexedRead: the indexed read through db.DB() vs
// stdlib.OpenDBFromPool on a plain pool.
func BenchmarkP1SQLIndexedRead(b *testing.B) {
	f := p1Setup(b)
	pair(b, pairOptions{}, p1Side(len(f.codes), indexedReadSQL(f.db.DB, f.codes)), p1Side(len(f.codes), indexedReadSQL(f.refDBGet, f.codes)))
}

// refPoolGet and refDBGet are the reference's accessors, so both sides
// make one call per query to get their handle.
func (f *p1Fixture) refPoolGet() *pgxpool.Pool { return f.refPool }
func (f *p1Fixture) refDBGet() *sql.DB         { return f.refDB }
