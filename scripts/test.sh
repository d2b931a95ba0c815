#!/usr/bin/env bash
# test.sh: run the whole test suite with the race detector against a
# PostgreSQL server found or started by scripts/ensure-postgres.sh.
#
#   scripts/test.sh                 # go test -race -count=1 -timeout 20m ./...
#   scripts/test.sh -run TestFoo -v # extra arguments are passed to go test
#   TEST_PKGS=./internal/... scripts/test.sh   # other packages than ./...
#
# Under CI=true a missing PostgreSQL (or headless Chromium, from
# scripts/ensure-chromium.sh) is an error; locally those tests skip (with a
# message naming DBACTOR_TEST_DATABASE or DBACTOR_CHROMIUM) and the rest run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

is_ci() {
	case "${CI:-}" in true | TRUE | True | 1) return 0 ;; esac
	return 1
}

if DSN=$(bash scripts/ensure-postgres.sh) && [ -n "$DSN" ]; then
	export DBACTOR_TEST_DATABASE=$DSN
else
	if is_ci; then
		echo "test.sh: ERROR: no PostgreSQL available under CI=true (see above); set DBACTOR_TEST_DATABASE or fix scripts/ensure-postgres.sh" >&2
		exit 1
	fi
	echo "test.sh: WARNING: no PostgreSQL available; tests that need it will SKIP. Set DBACTOR_TEST_DATABASE to a reachable server to run them." >&2
fi

# Headless Chromium for the status page's browser test (installed from
# Debian as root when missing, like PostgreSQL above).
if CHROMIUM=$(bash scripts/ensure-chromium.sh) && [ -n "$CHROMIUM" ]; then
	export DBACTOR_CHROMIUM=$CHROMIUM
else
	if is_ci; then
		echo "test.sh: ERROR: no headless Chromium under CI=true (see above); install Debian's chromium or set DBACTOR_CHROMIUM" >&2
		exit 1
	fi
	echo "test.sh: WARNING: no headless Chromium; the browser tests will SKIP. Install chromium or set DBACTOR_CHROMIUM." >&2
fi

# shellcheck disable=SC2086 # TEST_PKGS is a list of package patterns.
exec go test -race -count=1 -timeout 20m ${TEST_PKGS:-./...} "$@"
