#!/usr/bin/env bash
# test.sh: run the whole test suite with the race detector against a
# PostgreSQL server found or started by scripts/ensure-postgres.sh.
#
#   scripts/test.sh                 # go test -race -count=1 -timeout 20m ./...
#   scripts/test.sh -run TestFoo -v # extra arguments are passed to go test
#   TEST_PKGS=./internal/... scripts/test.sh   # other packages than ./...
#
# Under CI=true a missing PostgreSQL is an error; locally the PostgreSQL
# tests skip (with a message naming DBACTOR_TEST_DATABASE) and the rest run.
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

# shellcheck disable=SC2086 # TEST_PKGS is a list of package patterns.
exec go test -race -count=1 -timeout 20m ${TEST_PKGS:-./...} "$@"
