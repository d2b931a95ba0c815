#!/usr/bin/env bash
# bench.sh: run the benchmarks of tests/bench, keep their raw output in
# bench.out (benchstat reads it) and print the table of performance targets
# (go run ./tests/bench/benchtable). `make bench` runs it after making sure
# PostgreSQL is there (DBACTOR_TEST_DATABASE).
#
#   scripts/bench.sh                      # everything
#   BENCH_COUNT=10 scripts/bench.sh       # more runs of P2..P5 and M
#   BENCH_P1_ROUNDS=40 scripts/bench.sh   # more rounds of P1 (default 24)
#   BENCH_P1_TIME=1s scripts/bench.sh     # -benchtime of each P1 round (300ms)
#
# P1 (query path, target: within 2 %) is run apart, in BENCH_P1_ROUNDS
# separate rounds of -count=1 that alternate which side of each pair goes
# first ($DBACTOR_BENCH_FIRST): on this kind of machine the speed drifts by
# more than 2 % within a minute, and a -count=5 run measures all five
# dbactor runs before all five reference runs; many short interleaved runs
# put both sides through the same drift. Everything else runs once, with
# -count=BENCH_COUNT. The table shows the median of all runs of a benchmark;
# the ratio of a pair is the median of its per-run ratios.
#
# Exit status: non-zero when a benchmark fails, a target is missed or a
# target has no benchmark in the output (e.g. skipped for lack of
# PostgreSQL).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${BENCH_OUT:-bench.out}
count=${BENCH_COUNT:-5}
rounds=${BENCH_P1_ROUNDS:-24}
p1time=${BENCH_P1_TIME:-300ms}
pkgs=./tests/bench/...
go=${GO:-go}

: >"$out"
status=0

echo "==> P2..P5, M: go test -bench=. -skip='^BenchmarkP1' -count=$count" >&2
"$go" test -run='^$' -bench=. -skip='^BenchmarkP1' -benchmem -count="$count" -timeout 15m $pkgs |
	tee -a "$out" || status=1

round_out=$(mktemp)
trap 'rm -f "$round_out"' EXIT
for ((round = 1; round <= rounds; round++)); do
	first=dbactor
	if ((round % 2 == 0)); then first=reference; fi
	echo "==> P1 round $round/$rounds ($first first)" >&2
	DBACTOR_BENCH_FIRST=$first "$go" test -run='^$' -bench='^BenchmarkP1' -benchmem -count=1 -benchtime="$p1time" -timeout 15m $pkgs \
		>"$round_out" || status=1
	cat "$round_out" >>"$out"
	# Only the results on the terminal (the rest is in $out).
	grep -E '^(Benchmark.*/op|--- (FAIL|SKIP)|FAIL|panic:)' "$round_out" || true
done

echo >&2
"$go" run ./tests/bench/benchtable <"$out" || status=1
exit "$status"
