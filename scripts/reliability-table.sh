#!/usr/bin/env bash
# reliability-table.sh: pass `go test` output through and summarise the
# reliability scenarios in a Markdown table.
#
#   go test -race -count=1 -run Reliability -v ./tests/... 2>&1 | scripts/reliability-table.sh
#
# Every scenario (tests/reliability_*_test.go) prints one line
#
#   RELIABILITY|<scenario>|<faults injected>|<ops attempted>|<succeeded>|<failed with typed error>|<hung>|<counts exact yes/no>|<goroutines leaked>
#
# and the health scenarios (tests/reliability_health_test.go) one line
#
#   HEALTH|<fault>|<load>|<ms to degraded>|<ms to healthy>|<false alarms>|<pass/FAIL>
#
# This script copies its input to stdout unchanged and, at the end, prints
# those lines as a table. It exits non-zero when the output shows a failure
# (a FAIL or panic line, a scenario with hung > 0, counts not exact or
# leaked goroutines). Run it under `set -o pipefail` (the Makefile does) so
# that go test's own exit status counts too.
set -uo pipefail

rows=()
health=()
failed=0
while IFS= read -r line || [ -n "$line" ]; do
	printf '%s\n' "$line"
	trimmed=${line#"${line%%[![:space:]]*}"}
	case "$trimmed" in
	RELIABILITY\|*) rows+=("$trimmed") ;;
	HEALTH\|*) health+=("$trimmed") ;;
	FAIL | 'FAIL '* | FAIL$'\t'* | '--- FAIL:'* | 'panic:'*) failed=1 ;;
	esac
done

echo
echo "## Reliability"
echo
if [ ${#rows[@]} -eq 0 ]; then
	echo "No RELIABILITY lines in the output (were the scenarios skipped or filtered out?)."
else
	echo "| scenario | faults injected | ops attempted | succeeded | failed (typed error) | hung | counts exact | goroutines leaked |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: |"
	for row in "${rows[@]}"; do
		IFS='|' read -r _ scenario faults attempted succeeded typed hung exact leaked extra <<<"$row"
		if [ -n "${extra:-}" ] || [ -z "${leaked:-}" ]; then
			echo "reliability-table.sh: malformed line: $row" >&2
			failed=1
			continue
		fi
		echo "| $scenario | $faults | $attempted | $succeeded | $typed | $hung | $exact | $leaked |"
		if [ "$hung" != 0 ] || [ "$exact" != yes ] || [ "$leaked" != 0 ]; then
			failed=1
		fi
	done
fi

if [ ${#health[@]} -gt 0 ]; then
	echo
	echo "## Health detection (default HealthOptions; targets: degraded within 1500 ms of the fault, healthy within 1000 ms of recovery, no false alarm)"
	echo
	echo "| fault | load | to degraded (ms) | to healthy (ms) | false alarms | targets |"
	echo "| --- | --- | ---: | ---: | ---: | :---: |"
	for row in "${health[@]}"; do
		IFS='|' read -r _ fault load degraded healthy alarms verdict extra <<<"$row"
		if [ -n "${extra:-}" ] || [ -z "${verdict:-}" ]; then
			echo "reliability-table.sh: malformed line: $row" >&2
			failed=1
			continue
		fi
		echo "| $fault | $load | $degraded | $healthy | $alarms | $verdict |"
		[ "$verdict" = pass ] || failed=1
	done
fi

if [ "$failed" != 0 ]; then
	echo
	echo "reliability: FAILED (see above)" >&2
	exit 1
fi
