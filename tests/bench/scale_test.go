package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// How cost grows (report only; scripts/bench.sh plots it into docs/). For
// registries of 1, 16, 256 and 1,024 SQLite file databases — and of 1, 16
// and 64 PostgreSQL databases, as many as a server's default
// max_connections (100) leaves room for — one sub-benchmark each reports:
//
//	connect-ms, disconnect-ms      a registry-wide Connect / Disconnect
//	                               (median of 3), every pool opened / closed
//	connect-µs/db, disconnect-µs/db  the same ÷ databases
//	heap-B/db                      the heap an idle registry keeps per
//	                               database (not connected)
//
// and BenchmarkScaleModels the cost of one model registration, fanned out
// to 8 callback actors, as the registry grows to 100,000 models:
// register-µs at 1,000, 10,000 and 100,000 models (the mean over the last
// 1,000 registered before each mark). Flat per-database and per-model
// figures mean cost grows linearly with size; the plots' captions give the
// slope of log(cost) over log(size) (0: flat).

// scaleRounds is how many connect/disconnect cycles each size measures.
const scaleRounds = 3

func BenchmarkScaleSQLite(b *testing.B) {
	for _, n := range []int{1, 16, 256, 1024} {
		b.Run(fmt.Sprintf("databases=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			url := func(i int) string { return "sqlite:///" + filepath.Join(dir, fmt.Sprintf("db%04d.sqlite", i)) }
			scale(b, n, url)
		})
	}
}

func BenchmarkScalePostgres(b *testing.B) {
	base := postgresDSN(b)
	for _, n := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("databases=%d", n), func(b *testing.B) {
			scale(b, n, func(i int) string {
				return coldstartURL(b, base, map[string]string{"application_name": fmt.Sprintf("dbactor_bench_scale_%04d", i)})
			})
		})
	}
}

// scale measures a registry of n databases at url(0) … url(n-1).
func scale(b *testing.B, n int, url func(int) string) {
	cfg := registry.Config{Database: url(0), Extra: map[string]string{}}
	for i := 1; i < n; i++ {
		cfg.Extra[fmt.Sprintf("x%04d", i)] = url(i)
	}
	sys := newActorSystem(b)
	before := memoryHeap()
	reg, err := registry.New(sys, cfg, registry.WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	heap := memoryHeap() - before
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			b.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var connects, disconnects []float64
	b.ResetTimer()
	for range scaleRounds {
		start := time.Now()
		if err := reg.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		connected := time.Now()
		if err := reg.Disconnect(ctx); err != nil {
			b.Fatal(err)
		}
		connects = append(connects, float64(connected.Sub(start).Microseconds()))
		disconnects = append(disconnects, float64(time.Since(connected).Microseconds()))
	}
	b.StopTimer()
	c, d := median(connects), median(disconnects)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(n), "databases")
	b.ReportMetric(c/1000, "connect-ms")
	b.ReportMetric(d/1000, "disconnect-ms")
	b.ReportMetric(c/float64(n), "connect-µs/db")
	b.ReportMetric(d/float64(n), "disconnect-µs/db")
	b.ReportMetric(float64(heap)/float64(n), "heap-B/db")
}

// BenchmarkScaleModels registers 100,000 models, each fanned out to 8
// callback actors subscribed from the start, and reports the mean cost of
// a registration (until all 8 have its event) over the 1,000 before each
// mark; the registrations before a window are made and delivered untimed.
func BenchmarkScaleModels(b *testing.B) {
	const total, window = 100_000, 1_000
	marks := []int{1_000, 10_000, 100_000}
	f := &p5Fixture{sys: newActorSystem(b)}
	defs, err := f.defsFor(total)
	if err != nil {
		b.Fatal(err)
	}
	reg := newRegistry(b, f.sys, registry.Config{Database: "sqlite:///:memory:"}, registry.WithLogger(nil))
	ctx := setupContext(b)
	var subs []*actor.PID
	for range fanOutSubscribers {
		pid := f.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &scaleSubscriber{} }))
		subs = append(subs, pid)
		b.Cleanup(func() { _ = f.sys.Root.StopFuture(pid).Wait() })
		if err := reg.RegisterCallback(ctx, "", pid, client.Persistent()); err != nil {
			b.Fatal(err)
		}
	}
	// delivered waits until every subscriber has had n events.
	delivered := func(n int) {
		done := make(chan struct{}, len(subs))
		for _, pid := range subs {
			f.sys.Root.Send(pid, &scaleTarget{n: n, done: done})
		}
		timer := time.NewTimer(fanOutWait)
		defer timer.Stop()
		for range subs {
			select {
			case <-done:
			case <-timer.C:
				b.Fatalf("not every subscriber had %d events within %s", n, fanOutWait)
			}
		}
	}
	b.ResetTimer()
	done := 0
	for _, mark := range marks {
		b.StopTimer()
		if err := f.registerWith(reg, defs[done:mark-window]); err != nil {
			b.Fatal(err)
		}
		delivered(mark - window)
		b.StartTimer()
		start := time.Now()
		for _, def := range defs[mark-window : mark] {
			f.sys.Root.Send(reg.PID(), &messages.RegisterModel{Model: def})
		}
		delivered(mark)
		took := time.Since(start)
		b.ReportMetric(float64(took.Microseconds())/window, fmt.Sprintf("register-µs@%d", mark))
		done = mark
	}
	b.StopTimer()
	if got := len(reg.Models()); got != total {
		b.Fatalf("%d models registered, want %d", got, total)
	}
	b.ReportMetric(0, "ns/op")
}

// scaleSubscriber counts ModelRegistered events and tells done once it has
// had the scaleTarget's number.
type scaleSubscriber struct {
	got    int
	target *scaleTarget
}

type scaleTarget struct {
	n    int
	done chan<- struct{}
}

func (s *scaleSubscriber) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *scaleTarget:
		s.target = m
	case *messages.ModelRegistered:
		s.got++
	default:
		return
	}
	if s.target != nil && s.got >= s.target.n {
		s.target.done <- struct{}{}
		s.target = nil
	}
}

// registerWith registers defs on reg without waiting for each: the last
// is a request, answered once every one before it is registered (the
// registry's mailbox keeps their order).
func (f *p5Fixture) registerWith(reg *registry.Registry, defs []*messages.ModelDef) error {
	if len(defs) == 0 {
		return nil
	}
	for _, def := range defs[:len(defs)-1] {
		f.sys.Root.Send(reg.PID(), &messages.RegisterModel{Model: def})
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	reply, err := request.Request(ctx, f.sys, reg.PID(), &messages.RegisterModel{Model: defs[len(defs)-1]}, 0)
	if err != nil {
		return err
	}
	if r, ok := reply.(*messages.ModelResult); !ok || r.GetError() != nil {
		return fmt.Errorf("registering: %v", reply)
	}
	return nil
}
