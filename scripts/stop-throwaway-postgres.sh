#!/usr/bin/env bash
# stop-throwaway-postgres.sh: stop the throwaway PostgreSQL cluster that
# scripts/ensure-postgres.sh starts when no server is configured or running,
# and delete its directory (${TMPDIR:-/tmp}/dbactor-pg-<uid>, or
# $DBACTOR_PG_STATE_DIR). It never touches any other server.
#
#   scripts/stop-throwaway-postgres.sh              # stop and delete
#   scripts/stop-throwaway-postgres.sh --keep-data  # stop only; the next
#                                                   # ensure-postgres.sh restarts it
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/pg-common.sh
. "$here/pg-common.sh"

keep=false
case "${1:-}" in
'') ;;
--keep-data) keep=true ;;
-h | --help)
	sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--keep-data]" >&2
	exit 2
	;;
esac

state=$(pg_state_dir)
data=$state/data
if [ ! -d "$state" ]; then
	echo "stop-throwaway-postgres: no throwaway cluster at $state" >&2
	exit 0
fi

if [ -f "$data/postmaster.pid" ]; then
	if bindir=$(pg_find_bindir); then
		echo "stop-throwaway-postgres: stopping the cluster in $data" >&2
		pg_as_owner timeout 60 "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >&2 ||
			pg_as_owner timeout 60 "$bindir/pg_ctl" -D "$data" -m immediate -w -t 30 stop >&2 || true
	fi
	# Last resort: the postmaster's pid is the first line of postmaster.pid.
	if [ -f "$data/postmaster.pid" ]; then
		pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && grep -qaF -- "$data" "/proc/$pid/cmdline" 2>/dev/null; then
			echo "stop-throwaway-postgres: killing postmaster $pid" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
else
	echo "stop-throwaway-postgres: the cluster in $data is not running" >&2
fi

if [ "$keep" = false ]; then
	rm -rf "$state"
	rm -rf "/tmp/dbactor-pg-sock-$(id -u)"
	echo "stop-throwaway-postgres: removed $state" >&2
fi
