package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
)

// P7: a query by message. The benchmark process is a client node; the
// database node (P6's, a child process) hosts a registry on a PostgreSQL
// database with P1's table: peers on this machine may read and write its
// main database, and only read its extra database "readonly" (the same
// PostgreSQL database).
//
//   - P7RemoteQuery: client.Database().Query — the indexed read of one row
//     by message: the client facade, the trust boundary's authorization,
//     the database actor's query worker and the result's encoding, back
//     over the connection between nodes. Reference: the parts a query by
//     message cannot do without, measured in the same run: one bare remote
//     request/response (P6's echo) plus the same read on a pgxpool.Pool of
//     this process.
//   - P7ReadOnlyQuery: the same read by a peer that may only read, which
//     the database actor holds to it by a READ ONLY transaction and a
//     session reset (three round trips to the server). Reference: the
//     remote round trip plus the same read in a READ ONLY transaction on
//     the local pool (BEGIN, the read, ROLLBACK), which is what holding a
//     statement to read-only costs any Go program.
//
// Target for both: dbactor ÷ reference ≤ 1.2, judged on the interval.

// envP7 makes the database node add the extra database p7ReadOnly.
const envP7 = "DBACTOR_BENCH_P7"

// p7ReadOnly is the extra database that peers may only read.
const p7ReadOnly = "readonly"

// p7Fixture is P6's two nodes on a database with the items table, and a
// local pool on it.
type p7Fixture struct {
	*p6Fixture
	db       *client.RemoteDatabase
	readOnly *client.RemoteDatabase
	local    *pgxpool.Pool
	codes    []string
}

func p7Setup(b *testing.B) *p7Fixture {
	b.Helper()
	dsn := newPostgresDatabase(b)
	local := newRawPool(b, dsn, nil)
	createItems(b, local)
	f := &p7Fixture{p6Fixture: remoteSetup(b, dsn, envP7+"=1"), local: local, codes: itemCodes()}
	f.db = f.client.Database()
	f.readOnly = f.client.Extra(p7ReadOnly)
	ctx := setupContext(b)
	for i := range 200 { // warm-up: the node's workers, the local pool
		for _, read := range []func(context.Context, int) error{f.remoteRead, f.remoteReadOnly, f.localRead, f.localReadOnly} {
			if err := read(ctx, i); err != nil {
				b.Fatalf("warm-up: %v", err)
			}
		}
	}
	return f
}

// remoteRead is one dbactor op: the indexed read by message.
func (f *p7Fixture) remoteRead(ctx context.Context, k int) error {
	return f.remoteReadOn(ctx, f.db, k)
}

// remoteReadOnly is the indexed read by message of a peer that may only
// read.
func (f *p7Fixture) remoteReadOnly(ctx context.Context, k int) error {
	return f.remoteReadOn(ctx, f.readOnly, k)
}

func (f *p7Fixture) remoteReadOn(ctx context.Context, db *client.RemoteDatabase, k int) error {
	res, err := db.Query(ctx, p1IndexedRead, f.codes[k%len(f.codes)])
	if err != nil {
		return err
	}
	if len(res.Rows) != 1 {
		return fmt.Errorf("%d rows, want 1", len(res.Rows))
	}
	return nil
}

// localRead is the read on the local pool.
func (f *p7Fixture) localRead(ctx context.Context, k int) error {
	var id int64
	var qty int
	var note string
	return f.local.QueryRow(ctx, p1IndexedRead, f.codes[k%len(f.codes)]).Scan(&id, &qty, &note)
}

// localReadOnly is the read on the local pool in a READ ONLY transaction.
func (f *p7Fixture) localReadOnly(ctx context.Context, k int) error {
	tx, err := f.local.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var id int64
	var qty int
	var note string
	if err := tx.QueryRow(ctx, p1IndexedRead, f.codes[k%len(f.codes)]).Scan(&id, &qty, &note); err != nil {
		return err
	}
	return tx.Rollback(ctx)
}

// BenchmarkP7RemoteQuery (target P7): one goroutine, one query at a time.
func BenchmarkP7RemoteQuery(b *testing.B) {
	f := p7Setup(b)
	k := 0
	pair(b, pairOptions{},
		serialBatch(func(ctx context.Context) error { k++; return f.remoteRead(ctx, k) }),
		serialBatch(func(ctx context.Context) error {
			k++
			if err := f.roundTrip(ctx); err != nil {
				return err
			}
			return f.localRead(ctx, k)
		}))
}

// BenchmarkP7ReadOnlyQuery (target P7): as P7RemoteQuery, by a peer that
// may only read, against a read-only transaction on the local pool.
func BenchmarkP7ReadOnlyQuery(b *testing.B) {
	f := p7Setup(b)
	k := 0
	pair(b, pairOptions{},
		serialBatch(func(ctx context.Context) error { k++; return f.remoteReadOnly(ctx, k) }),
		serialBatch(func(ctx context.Context) error {
			k++
			if err := f.roundTrip(ctx); err != nil {
				return err
			}
			return f.localReadOnly(ctx, k)
		}))
}

// BenchmarkRemoteQueryInFlight (report only): 32 queries by message in
// flight at once against the node's query workers (workers, default
// actors.DefaultQueryWorkers); ns/op is wall time per query, the inverse
// of the throughput, beside the same 32 on the local pool.
func BenchmarkRemoteQueryInFlight(b *testing.B) {
	f := p7Setup(b)
	const inFlight = 32
	remote := parallelBatch(inFlight, len(f.codes), f.remoteRead)
	local := parallelBatch(inFlight, len(f.codes), f.localRead)
	const n = 4000
	var took time.Duration
	rounds := 0
	b.ResetTimer()
	b.StartTimer() // the setup's count check stopped it
	for b.Loop() { // one loop of n queries takes longer than -benchtime's second
		d, err := remote(n)
		if err != nil {
			b.Fatal(err)
		}
		took += d
		rounds++
	}
	b.StopTimer()
	ref, err := local(n)
	if err != nil {
		b.Fatal(err)
	}
	took /= time.Duration(rounds)
	b.ReportMetric(float64(took.Nanoseconds())/n, "ns/op")
	b.ReportMetric(n/took.Seconds(), "queries/s")
	b.ReportMetric(n/ref.Seconds(), "local-queries/s")
	b.ReportMetric(actors.DefaultQueryWorkers, "workers")
	b.ReportMetric(inFlight, "in-flight")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}
