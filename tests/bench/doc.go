// Package bench holds the performance benchmarks of dbactor (issue 6): each
// target is a ratio against pgx or Proto.Actor themselves, measured side by
// side in the same run, because these machines are noisy. Run them with
// `make bench` (scripts/bench.sh), which starts or finds PostgreSQL like
// `make test`, keeps the raw `go test -bench` output in bench.out (benchstat
// reads it) and prints the table of targets with
// `go run ./tests/bench/benchtable`; a missed target fails it.
//
// # Naming
//
// A target with a reference is one benchmark that measures both sides in
// one process, alternating: rounds of one batch of dbactor ops and one
// batch of reference ops, the side that goes first alternating (pair,
// pair_test.go; run with -benchtime=1x). It reports each side's median
// ns/op and allocs/op (ns/op, ref-ns/op, allocs/op, ref-allocs/op) and the
// ratio dbactor ÷ reference — the geometric mean of the per-round ratios —
// with its 95 % confidence interval (ratio-lo, ratio-hi). A target fails
// only when the whole interval lies beyond it. The others are single
// benchmarks reporting b.ReportMetric figures. The ID (P1 … P6, M) selects
// the target in benchtable's table:
//
//	P1  query path        reference ÷ dbactor ≥ 0.98
//	P2  lifecycle ops     dbactor ÷ (2 × reference) ≤ 2.5; allocs/op shown
//	P3  cold start        dbactor ÷ reference ≤ 1.15, the reference opening
//	    the same 17 pools concurrently (errgroup), through a 2 ms proxy and
//	    on loopback
//	P4  rollback          ms-to-error ≤ ms-limit, sessions-left = goroutines-left = 0
//	P5  callback fan-out  dbactor ÷ reference ≤ 2 (ns per registration
//	    delivered to 8 callback actors, i.e. ≥ 0.5 × the reference's
//	    deliveries/s; both reported), the reference a bare Proto.Actor
//	    actor fanning the same events out to 8 actors
//	P6  remote lifecycle  dbactor ÷ reference ≤ 1.3 (Connect+Disconnect
//	    from a client node vs two bare remote request/responses)
//	P7  remote query      dbactor ÷ reference ≤ 1.2 (an indexed read by
//	    message from a client node vs one bare remote request/response
//	    plus the same read on a local pgxpool); ReadOnlyRemoteQuery, the
//	    same read by a peer that may only read, reports its ratio
//	M   memory            heap-B/registry, reported
//
// # P1: the query path
//
// The registry's pool is a plain *pgxpool.Pool that the database actor owns;
// no actor is on the query path, so the figures must match a plain pool.
// Each benchmark creates a database of its own (a table of 5,000 rows with
// a unique index on the key of the indexed read), connects a registry to it
// and opens a reference pool on the same DSN with the registry pool's
// settings copied over (the setup fails if any setting that matters for a
// query differs). Both pools stay open side by side, and both are warmed the
// same way: every connection opened, both statements prepared on each.
// dbactor's side calls db.Pool() (or db.DB()) for every query, as a handler
// would; the *sql.DB pair compares db.DB() (internal/pgdb.OpenDB) with
// stdlib.OpenDBFromPool on the reference pool.
//
// The queries run from 4 × GOMAXPROCS goroutines, more than the pool has
// connections, so every connection is always busy and ns/op is the inverse
// of the pool's throughput. With one goroutine per core the figure is bound
// by wake-up latency instead, which on a 2-core VM swings by a factor of 2
// to 3 between runs. The machine also drifts by more than 2 % within a
// minute: hence the alternating rounds of 20 ms batches, in which a round
// the machine slowed down slows both sides.
//
// # P2: lifecycle operations
//
// One dbactor op is db.Connect + db.Disconnect on a database that is already
// connected (ref count 1 → 2 → 1: the database actor only counts), i.e. two
// requests through the facade — gates, deadline, internal/request, the actor's
// middleware and reply. The reference op is one bare Proto.Actor
// request/response: Root.RequestFuture(pid, &messages.Connect{}, timeout)
// .Result() to an actor in the same actor system that answers with an empty
// messages.ConnectResult. RequestFuture, not internal/request, because the
// target is dbactor against Proto.Actor itself: internal/request is dbactor's own
// request path (it replaces futures on the facade) and is part of what is
// measured; and both do the same kind of work per request (register a
// temporary process, arm a timer, wait on a channel), so the comparison is
// like for like. Each pair is measured serially and from GOMAXPROCS
// goroutines against the one database actor (and the one answering
// actor); afterwards the ref count is checked to be back at 1.
//
// # P5: callback fan-out
//
// One op is one model registration delivered to all 8 callback actors (8
// deliveries). dbactor's side sends RegisterModel (no sender, no reply) to
// a fresh registry whose 8 subscribers registered with RegisterCallback(ctx,
// "", pid, Persistent()); the reference's side sends the same RegisterModel
// messages to a plain actor that builds one messages.ModelRegistered per
// registration, as a hand-written actor would, and sends it to its 8
// subscribers. The subscribers are the same actor on both sides (they
// count, check the order and report the last event), in the same actor
// system. A batch is 10,000 registrations, timed from the first Send to
// the last delivery after a runtime.GC (the other side's garbage is not
// its to collect); setup and teardown are not timed. The timed part runs
// under the pprof label p5=dbactor or p5=reference, which the actors'
// goroutines inherit: profile one side with go tool pprof -tagfocus.
//
// # Helpers
//
// main_test.go has TestMain (goleak via testdb.VerifyNoLeaks: a benchmark
// that leaves a goroutine behind fails the run) and the helpers every
// benchmark here uses: postgresDSN and newPostgresDatabase (skip, or fail
// under CI=true, without PostgreSQL), newActorSystem, newRegistry,
// connectedRegistry, newRawPool (all clean up after themselves) and pair
// (pair_test.go), which measures a pair in alternating rounds.
package bench
