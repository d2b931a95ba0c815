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
#   BENCH_P6_ROUNDS=20 scripts/bench.sh   # more rounds of P6 (default 10)
#   BENCH_P6_TIME=2s scripts/bench.sh     # -benchtime of each P6 round (1s)
#
# P1 (query path, target: within 2 %) is run apart, in BENCH_P1_ROUNDS
# separate rounds of -count=1 that alternate which side of each pair goes
# first ($DBACTOR_BENCH_FIRST): on this kind of machine the speed drifts by
# more than 2 % within a minute, and a -count=5 run measures all five
# dbactor runs before all five reference runs; many short interleaved runs
# put both sides through the same drift. P6 (remote connect/disconnect
# against a bare remote request/response, target ≤ 1.3) runs the same way,
# in BENCH_P6_ROUNDS rounds: its two processes share the machine's cores
# with whatever else runs, and a busy second skews a whole run. Everything
# else runs once, with -count=BENCH_COUNT. The table shows the median of
# all runs of a benchmark; the ratio of a pair is the median of its
# per-run ratios.
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
p6rounds=${BENCH_P6_ROUNDS:-10}
p6time=${BENCH_P6_TIME:-1s}
pkgs=./tests/bench/...
go=${GO:-go}

: >"$out"
status=0

echo "==> P2..P5, M: go test -bench=. -skip='^BenchmarkP(1|6)' -count=$count" >&2
"$go" test -run='^$' -bench=. -skip='^BenchmarkP(1|6)' -benchmem -count="$count" -timeout 15m $pkgs |
	tee -a "$out" || status=1

round_out=$(mktemp)
trap 'rm -f "$round_out"' EXIT

# interleaved ID ROUNDS BENCHTIME: ROUNDS runs of -count=1 of the
# benchmarks of target ID, alternating which side of each pair goes first.
interleaved() {
	local id=$1 n=$2 benchtime=$3 round first
	for ((round = 1; round <= n; round++)); do
		first=dbactor
		if ((round % 2 == 0)); then first=reference; fi
		echo "==> $id round $round/$n ($first first)" >&2
		DBACTOR_BENCH_FIRST=$first "$go" test -run='^$' -bench="^Benchmark$id" -benchmem -count=1 -benchtime="$benchtime" -timeout 15m $pkgs \
			>"$round_out" || status=1
		cat "$round_out" >>"$out"
		# Only the results on the terminal (the rest is in $out).
		grep -E '^(Benchmark.*/op|--- (FAIL|SKIP)|FAIL|panic:)' "$round_out" || true
	done
}
interleaved P1 "$rounds" "$p1time"
interleaved P6 "$p6rounds" "$p6time"

echo >&2
"$go" run ./tests/bench/benchtable <"$out" || status=1
exit "$status"
