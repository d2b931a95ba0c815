package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A pair benchmark measures dbactor against its reference in one process,
// in fine-grained alternation: rounds of one batch of ops on each side,
// the side that goes first alternating, so that both live through the same
// drift of the machine's speed. Its verdict rests on the ratio of the two
// and a 95 % confidence interval of it, not on one lucky run.
//
// Run it with -benchtime=1x: it measures once, whatever b.N is. It reports
//
//	ns/op, ref-ns/op          median ns per op of each side over the rounds
//	allocs/op, ref-allocs/op  median allocations per op of each side
//	ratio                     dbactor ÷ reference: the geometric mean of
//	                          the per-round ratios
//	ratio-lo, ratio-hi        its 95 % confidence interval (Student's t on
//	                          the logarithms of the per-round ratios)
//	rounds                    how many rounds it took
//
// and, when $DBACTOR_BENCH_RAW names a file, appends every round of each
// side to it as a benchmark line (<name>/dbactor and <name>/reference),
// which benchstat reads.

// pairSide runs n ops of one side and returns how long they took.
type pairSide func(n int) (time.Duration, error)

// pairOptions shape a pair benchmark.
type pairOptions struct {
	// rounds of one batch on each side; 0 means $BENCH_PAIR_ROUNDS, else 40.
	rounds int
	// batch is the ops per side per round; 0 calibrates it so that one
	// dbactor batch takes about $BENCH_PAIR_BATCH_MS (default 20 ms).
	batch int
}

// pairFigures are one round's figures of one side, per op.
type pairFigures struct{ ns, allocs, bytes float64 }

// pairResult is what pair reported: each side's median ns/op, for a
// benchmark that reports figures of its own derived from them.
type pairResult struct{ ns, refNs float64 }

// pair measures own against ref and reports the figures above.
func pair(b *testing.B, o pairOptions, own, ref pairSide) pairResult {
	b.Helper()
	if o.rounds <= 0 {
		o.rounds = envInt("BENCH_PAIR_ROUNDS", 40)
	}
	if o.batch <= 0 {
		o.batch = calibrate(b, own, time.Duration(envInt("BENCH_PAIR_BATCH_MS", 20))*time.Millisecond)
	}
	// Warm both sides up (pools filled, code paths hot).
	for _, s := range []pairSide{own, ref} {
		if _, err := s(o.batch); err != nil {
			b.Fatal(err)
		}
	}
	var owns, refs []pairFigures
	var logRatios []float64
	measure := func(s pairSide) pairFigures {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		took, err := s(o.batch)
		runtime.ReadMemStats(&after)
		if err != nil {
			b.Fatal(err)
		}
		n := float64(o.batch)
		return pairFigures{float64(took.Nanoseconds()) / n, float64(after.Mallocs-before.Mallocs) / n, float64(after.TotalAlloc-before.TotalAlloc) / n}
	}
	b.ReportAllocs() // B/op and allocs/op are printed: the medians below
	b.ResetTimer()
	for i := range o.rounds {
		var on, rn pairFigures
		if i%2 == 0 {
			on, rn = measure(own), measure(ref)
		} else {
			rn, on = measure(ref), measure(own)
		}
		owns, refs = append(owns, on), append(refs, rn)
		logRatios = append(logRatios, math.Log(on.ns/rn.ns))
	}
	b.StopTimer()
	med := func(fs []pairFigures, f func(pairFigures) float64) float64 {
		v := make([]float64, len(fs))
		for i := range fs {
			v[i] = f(fs[i])
		}
		return median(v)
	}
	ns := func(f pairFigures) float64 { return f.ns }
	allocs := func(f pairFigures) float64 { return f.allocs }
	bytes := func(f pairFigures) float64 { return f.bytes }
	mean, lo, hi := meanInterval(logRatios)
	b.ReportMetric(med(owns, ns), "ns/op")
	b.ReportMetric(med(refs, ns), "ref-ns/op")
	b.ReportMetric(med(owns, allocs), "allocs/op")
	b.ReportMetric(med(refs, allocs), "ref-allocs/op")
	b.ReportMetric(med(owns, bytes), "B/op")
	b.ReportMetric(med(refs, bytes), "ref-B/op")
	b.ReportMetric(math.Exp(mean), "ratio")
	b.ReportMetric(math.Exp(lo), "ratio-lo")
	b.ReportMetric(math.Exp(hi), "ratio-hi")
	b.ReportMetric(float64(o.rounds), "rounds")
	writeRaw(b, o.batch, owns, refs)
	return pairResult{ns: med(owns, ns), refNs: med(refs, ns)}
}

// calibrate finds a batch size for which own takes about target.
func calibrate(b *testing.B, own pairSide, target time.Duration) int {
	b.Helper()
	for n := 1; ; n *= 2 {
		took, err := own(n)
		if err != nil {
			b.Fatal(err)
		}
		if took >= target/4 || n >= 1<<20 {
			return max(1, int(float64(n)*float64(target)/float64(max(took, time.Microsecond))))
		}
	}
}

// meanInterval is the mean of x and its 95 % confidence interval
// (Student's t, n−1 degrees of freedom).
func meanInterval(x []float64) (mean, lo, hi float64) {
	n := float64(len(x))
	for _, v := range x {
		mean += v
	}
	mean /= n
	if len(x) < 2 {
		return mean, math.Inf(-1), math.Inf(1)
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	half := tQuantile975(len(x)-1) * math.Sqrt(ss/(n-1)/n)
	return mean, mean - half, mean + half
}

// tQuantile975 is the 0.975 quantile of Student's t with df degrees of
// freedom: exact to 3 decimals up to 30, then the Cornish-Fisher
// expansion around the normal quantile (error below 0.002).
func tQuantile975(df int) float64 {
	table := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df >= 1 && df <= len(table) {
		return table[df-1]
	}
	const z = 1.959964
	d := float64(df)
	return z + (z*z*z+z)/(4*d) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*d*d)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// writeRaw appends every round of both sides to $DBACTOR_BENCH_RAW.
func writeRaw(b *testing.B, batch int, own, ref []pairFigures) {
	path := os.Getenv("DBACTOR_BENCH_RAW")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Errorf("raw output: %v", err)
		return
	}
	defer f.Close()
	for i := range own {
		for _, side := range []struct {
			name string
			r    pairFigures
		}{{"dbactor", own[i]}, {"reference", ref[i]}} {
			name, r := side.name, side.r
			fmt.Fprintf(f, "%s/%s\t%d\t%.1f ns/op\t%.0f B/op\t%.1f allocs/op\n", b.Name(), name, batch, r.ns, r.bytes, r.allocs)
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// serialBatch is a side that runs op n times on one goroutine.
func serialBatch(op func(ctx context.Context) error) pairSide {
	return func(n int) (time.Duration, error) {
		ctx := context.Background()
		start := time.Now()
		for range n {
			if err := op(ctx); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
}

// parallelBatch is a side that runs op n times from g goroutines at once
// (as b.RunParallel would): the figure is wall time per op, the inverse of
// the throughput. Each goroutine passes op its own running key in
// [0, keys), starting at a random one.
func parallelBatch(g, keys int, op func(ctx context.Context, key int) error) pairSide {
	return func(n int) (time.Duration, error) {
		ctx := context.Background()
		var next atomic.Int64
		errs := make(chan error, g)
		start := time.Now()
		var wg sync.WaitGroup
		for range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := rand.IntN(keys)
				for next.Add(1) <= int64(n) {
					if err := op(ctx, k); err != nil {
						errs <- err
						return
					}
					if k++; k == keys {
						k = 0
					}
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		select {
		case err := <-errs:
			return 0, err
		default:
			return took, nil
		}
	}
}
