#!/usr/bin/env bash
# bench.sh: run the benchmarks of tests/bench, keep their raw output in
# bench.out and every round of the pairs in bench-raw.out (benchstat reads
# both) and print the table of performance targets (go run
# ./tests/bench/benchtable). `make bench` runs it after making sure
# PostgreSQL is there (DBACTOR_TEST_DATABASE).
#
#   scripts/bench.sh                       # everything
#   BENCH_COUNT=10 scripts/bench.sh        # more runs of P4, M and the rest
#   BENCH_PAIR_ROUNDS=80 scripts/bench.sh  # more rounds per pair (default 40)
#   BENCH_PAIR_BATCH_MS=50 scripts/bench.sh # longer batches (default 20 ms;
#                                           # P3 and P5 have fixed batches)
#   BENCH_P3_ROUNDS=40 scripts/bench.sh    # more P3 cold starts per side (20)
#
# The pairs (P1, P2, P3, P5, P6, P7: dbactor against a reference, judged on
# their ratio) each run once (-benchtime=1x) and measure both sides in one
# process, in rounds that alternate which side goes first, so that both
# live through the same drift of the machine's speed; each reports its
# ratio with a 95 % confidence interval, and a target fails only when the
# whole interval lies beyond it. Everything else runs -count=BENCH_COUNT
# times; the table shows medians.
#
# The Scale benchmarks (how connect, disconnect, idle memory and model
# fan-out cost grow with size) run once each and are drawn into
# docs/scale-*.png by tests/bench/plots, which prints each curve's slope.
#
# Exit status: non-zero when a benchmark fails, a target is missed or a
# target has no benchmark in the output (e.g. skipped for lack of
# PostgreSQL).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${BENCH_OUT:-bench.out}
raw=${BENCH_RAW:-bench-raw.out}
count=${BENCH_COUNT:-5}
pkgs=./tests/bench/...
go=${GO:-go}
pairs='^Benchmark(P(1|2|3|5|6|7)|RemoteQueryVsQueryActor|ReadOnlyRemoteQuery)'
scale='^BenchmarkScale'

: >"$out"
: >"$raw"
status=0

echo "==> pairs P1 P2 P3 P5 P6: go test -bench='$pairs' -benchtime=1x" >&2
DBACTOR_BENCH_RAW=$(realpath "$raw") "$go" test -run='^$' -bench="$pairs" -benchtime=1x -count=1 -timeout 30m $pkgs |
	tee -a "$out" || status=1

echo "==> how cost grows: go test -bench='$scale' -benchtime=1x" >&2
"$go" test -run='^$' -bench="$scale" -benchtime=1x -count=1 -timeout 30m $pkgs |
	tee -a "$out" || status=1

echo "==> the rest: go test -bench=. -skip='$pairs|$scale' -count=$count" >&2
"$go" test -run='^$' -bench=. -skip="$pairs|$scale" -benchmem -count="$count" -timeout 15m $pkgs |
	tee -a "$out" || status=1

# The plots of how cost grows, into docs/ (a module of its own: its
# plotting library stays out of dbactor's module graph).
echo "==> plots: docs/scale-*.png" >&2
in=$(realpath "$out") docs=$PWD/docs
(cd tests/bench/plots && "$go" run . -in "$in" -out "$docs") || status=1

echo >&2
"$go" run ./tests/bench/benchtable <"$out" || status=1
exit "$status"
