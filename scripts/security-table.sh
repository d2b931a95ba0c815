#!/usr/bin/env bash
# security-table.sh: pass `go test` output of the attack suite through and
# summarise it in a Markdown table.
#
#   go test -race -count=1 -run TestSecurity -v ./tests/security/ 2>&1 | scripts/security-table.sh
#
# Every row of the suite (tests/security) logs one line
#
#   SECURITY | <id> | <attack> | <expected> | <observed> | <victim intact: yes/no>
#
# (possibly indented, after a file:line prefix: the suite runs in a process
# of its own and its output is logged again by the parent). This script
# copies its input to stdout unchanged and, at the end, prints those lines
# as a table, one row per id (the last line wins). It exits non-zero when
# the output shows a failure (a FAIL or panic line, a row whose observed
# starts with FAILED, a victim not intact) or when no row was found. Run it
# under `set -o pipefail` (the Makefile does) so that go test's own exit
# status counts too.
set -uo pipefail

trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	printf '%s' "$s"
}

declare -A rows=()
order=()
failed=0
while IFS= read -r line || [ -n "$line" ]; do
	printf '%s\n' "$line"
	trimmed=${line#"${line%%[![:space:]]*}"}
	case "$line" in
	*'SECURITY | '*)
		row="SECURITY | ${line#*SECURITY | }"
		IFS='|' read -r _ id _ <<<"$row"
		id=$(trim "$id")
		if [ -z "${rows[$id]+x}" ]; then order+=("$id"); fi
		rows[$id]=$row
		;;
	esac
	case "$trimmed" in
	FAIL | 'FAIL '* | FAIL$'\t'* | '--- FAIL:'* | 'panic:'*) failed=1 ;;
	esac
done

echo
echo "## Security: attacks on a database node with mutual TLS and a policy"
echo
if [ ${#order[@]} -eq 0 ]; then
	echo "No SECURITY lines in the output (did the suite skip: no PostgreSQL? was it filtered out?)."
	failed=1
else
	echo "| # | attack | expected | observed | victim intact |"
	echo "| --- | --- | --- | --- | :---: |"
	for id in "${order[@]}"; do
		IFS='|' read -r _ _ attack expected observed intact extra <<<"${rows[$id]}"
		if [ -n "${extra:-}" ] || [ -z "${intact:-}" ]; then
			echo "security-table.sh: malformed line: ${rows[$id]}" >&2
			failed=1
			continue
		fi
		attack=$(trim "$attack")
		expected=$(trim "$expected")
		observed=$(trim "$observed")
		intact=$(trim "$intact")
		echo "| $id | $attack | $expected | $observed | $intact |"
		case "$observed" in FAILED*) failed=1 ;; esac
		if [ "$intact" != yes ]; then failed=1; fi
	done
fi

if [ "$failed" != 0 ]; then
	echo
	echo "security: FAILED (see above)" >&2
	exit 1
fi
