package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/registry"
)

// memoryBatch is how many idle registries are alive at once while their
// heap is measured: enough to average out the noise of a single one, few
// enough that a run does not hold hundreds of megabytes.
const memoryBatch = 100

// BenchmarkMIdleRegistry (target M, reported only): the heap an idle
// registry of 1 + 16 databases keeps alive — its registry, supervisor and
// 17 database actors with their mailboxes and process-registry entries, the
// parsed configurations and the facade. The databases are PostgreSQL URLs
// (each keeps a parsed pgxpool.Config) and none is connected, so no pool or
// connection counts, and no server is needed.
//
// One op is one registry.New (ns/op, B/op and allocs/op are New's). The
// registries are kept alive in batches of memoryBatch, each batch in a fresh
// actor system: Proto.Actor's process registry keeps the capacity its maps
// grew to after actors stop, so a reused system would hide the entries'
// cost. Around each batch, untimed, the heap is measured after runtime.GC
// (HeapAlloc, the empty system included in the baseline); heap-B/registry
// is the growth per registry over every registry made, heap-B/database the
// same ÷ 17. Every registry is closed and every system shut down.
func BenchmarkMIdleRegistry(b *testing.B) {
	cfg := memoryConfig()
	var (
		sys     *actor.ActorSystem
		live    = make([]*registry.Registry, 0, memoryBatch)
		before  int64
		grown   int64
		counted int
	)
	measure := func() {
		grown += memoryHeap() - before
		counted += len(live)
		memoryClose(b, live)
		clear(live) // the backing array must not keep them alive
		live = live[:0]
		sys.Shutdown()
		sys = nil
	}
	defer func() {
		if sys != nil { // b.Fatal in the loop
			memoryClose(b, live)
			sys.Shutdown()
		}
	}()

	b.ReportAllocs()
	for b.Loop() {
		if len(live) == 0 {
			b.StopTimer()
			sys = registry.NewActorSystem(nil)
			before = memoryHeap()
			b.StartTimer()
		}
		reg, err := registry.New(sys, cfg)
		if err != nil {
			b.Fatal(err)
		}
		live = append(live, reg)
		if len(live) == memoryBatch {
			b.StopTimer()
			measure()
			b.StartTimer()
		}
	}
	if len(live) > 0 {
		measure()
	}
	perRegistry := float64(grown) / float64(counted)
	b.ReportMetric(perRegistry, "heap-B/registry")
	b.ReportMetric(perRegistry/coldstartDatabases, "heap-B/database")
}

// memoryConfig is a registry of 1 + 16 PostgreSQL databases, never
// connected.
func memoryConfig() registry.Config {
	url := func(i int) string {
		return fmt.Sprintf("postgres://app:secret@127.0.0.1:5432/bench_memory_%02d?sslmode=disable", i)
	}
	cfg := registry.Config{Database: url(0), Extra: make(map[string]string, coldstartDatabases-1)}
	for i := 1; i < coldstartDatabases; i++ {
		cfg.Extra[fmt.Sprintf("x%02d", i)] = url(i)
	}
	return cfg
}

// memoryHeap is the live heap: HeapAlloc after two collections (the second
// frees what waited for a finalizer in the first).
func memoryHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// memoryClose closes the registries, concurrently.
func memoryClose(b *testing.B, regs []*registry.Registry) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, reg := range regs {
		wg.Go(func() {
			if err := reg.Close(ctx); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}
