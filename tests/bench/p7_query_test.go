package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
)

// P7: a query by message. The benchmark process is a client node; the
// database node (P6's, a child process) hosts a registry on a PostgreSQL
// database with P1's table and lets peers on this machine read its main
// database.
//
//   - dbactor: client.Database().Query — the indexed read of one row by
//     message: the client facade, the trust boundary's authorization, the
//     database actor's query worker (a READ ONLY transaction for a peer)
//     and the result's encoding, back over the connection between nodes.
//   - reference: the parts a query by message cannot do without, measured
//     in the same run: one bare remote request/response (P6's echo) plus the
//     same read on a pgxpool.Pool of this process.
//
// Target: dbactor ÷ reference ≤ 1.2, judged on the interval.

// p7Fixture is P6's two nodes on a database with the items table, and a
// local pool on it.
type p7Fixture struct {
	*p6Fixture
	db    *client.RemoteDatabase
	local *pgxpool.Pool
	codes []string
}

func p7Setup(b *testing.B) *p7Fixture {
	b.Helper()
	dsn := newPostgresDatabase(b)
	local := newRawPool(b, dsn, nil)
	createItems(b, local)
	f := &p7Fixture{p6Fixture: remoteSetup(b, dsn), local: local, codes: itemCodes()}
	f.db = f.client.Database()
	ctx := setupContext(b)
	for i := range 200 { // warm-up: the node's workers, the local pool
		if err := f.remoteRead(ctx, i); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
		if err := f.localRead(ctx, i); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	return f
}

// remoteRead is one dbactor op: the indexed read by message.
func (f *p7Fixture) remoteRead(ctx context.Context, k int) error {
	res, err := f.db.Query(ctx, p1IndexedRead, f.codes[k%len(f.codes)])
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
