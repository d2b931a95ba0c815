package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/messages"
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
// Target: dbactor ÷ reference ≤ 1.2, judged on the interval.
//
// ReadOnlyRemoteQuery (report only): the same read by a peer that may only
// read, which the database actor holds to it by a READ ONLY transaction
// and the session checks that make the connection safe to hand on (three
// round trips to the server, two of them also counting the session's
// prepared statements). Reference: the remote round trip plus the same
// read in a READ ONLY transaction on the local pool (BEGIN, the read,
// ROLLBACK), which has no such checks: the ratio is the guard's price.

// RemoteQueryVsQueryActor (report only): P7RemoteQuery's read against the
// best a Go developer would write for a query by message without dbactor:
// an actor on the database node that runs the read on the node's pgxpool
// in a goroutine of its own and answers with the row (queryActor). It
// tells how much of P7's gap to its reference is dbactor's and how much is
// running a query on another node at all.

// envP7 makes the database node add the extra database p7ReadOnly (and the
// query actor).
const envP7 = "DBACTOR_BENCH_P7"

// p7QueryActor is the name of the query actor on the database node.
const p7QueryActor = "p7-query-actor"

// queryActor answers a messages.Query of p1IndexedRead (one text argument)
// with its row, read on pool in a goroutine so that it takes the next
// request at once.
type queryActor struct{ pool *pgxpool.Pool }

func (q *queryActor) Receive(c actor.Context) {
	m, ok := c.Message().(*messages.Query)
	if !ok || len(m.GetArgs()) != 1 {
		return
	}
	sender, sys := c.Sender(), c.ActorSystem()
	go func() {
		var id int64
		var qty int
		var note string
		res := &messages.QueryResult{}
		if err := q.pool.QueryRow(context.Background(), m.GetSql(), m.GetArgs()[0].GetText()).Scan(&id, &qty, &note); err != nil {
			res.Error = &messages.Error{Code: messages.Code_CODE_QUERY, Message: err.Error()}
		} else {
			res.Columns = []*messages.Column{{Name: "id", Type: "INT8"}, {Name: "qty", Type: "INT4"}, {Name: "note", Type: "TEXT"}}
			res.Rows = []*messages.Row{{Values: []*messages.Value{
				{Kind: &messages.Value_Int{Int: id}}, {Kind: &messages.Value_Int{Int: int64(qty)}}, {Kind: &messages.Value_Text{Text: note}}}}}
		}
		sys.Root.Send(sender, res)
	}()
}

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

// BenchmarkReadOnlyRemoteQuery (report only): as P7RemoteQuery, by a peer
// that may only read, against a read-only transaction on the local pool.
func BenchmarkReadOnlyRemoteQuery(b *testing.B) {
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

// BenchmarkRemoteQueryVsQueryActor (report only): P7RemoteQuery's read
// against the same read by message to queryActor on the database node.
func BenchmarkRemoteQueryVsQueryActor(b *testing.B) {
	f := p7Setup(b)
	pid := actor.NewPID(f.echo.GetAddress(), p7QueryActor)
	k := 0
	pair(b, pairOptions{},
		serialBatch(func(ctx context.Context) error { k++; return f.remoteRead(ctx, k) }),
		serialBatch(func(ctx context.Context) error {
			k++
			args, err := sqlvalue.FromGoArgs(f.codes[k%len(f.codes)])
			if err != nil {
				return err
			}
			reply, err := request.Request(ctx, f.sys, pid, &messages.Query{Sql: p1IndexedRead, Args: args}, p6Timeout)
			if err != nil {
				return err
			}
			r, ok := reply.(*messages.QueryResult)
			switch {
			case !ok:
				return fmt.Errorf("unexpected reply %T", reply)
			case r.GetError() != nil:
				return r.GetError()
			case len(r.GetRows()) != 1:
				return fmt.Errorf("%d rows, want 1", len(r.GetRows()))
			}
			return nil
		}))
}
