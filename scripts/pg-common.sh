# shellcheck shell=bash
# Shared helpers for scripts/ensure-postgres.sh and
# scripts/stop-throwaway-postgres.sh. Source it; do not run it.
#
# Everything here writes diagnostics to stderr only: stdout of
# ensure-postgres.sh is reserved for the one DSN line.

pg_log() { printf 'ensure-postgres: %s\n' "$*" >&2; }

# pg_redact DSN: the DSN with any password replaced by ***.
pg_redact() {
	printf '%s' "$1" | sed -E 's#(://[^:/@?]*:)[^@/]*@#\1***@#; s#(password=)[^ &]*#\1***#g'
}

# pg_find_bindir: print the directory holding the PostgreSQL binaries
# (initdb, pg_ctl, postgres, pg_isready, psql). $DBACTOR_PG_BINDIR wins;
# then the newest /usr/lib/postgresql/<major>/bin; then the directory of
# pg_ctl on PATH. Prints nothing and returns 1 if none is found.
pg_find_bindir() {
	local d
	if [ -n "${DBACTOR_PG_BINDIR:-}" ]; then
		if [ -x "$DBACTOR_PG_BINDIR/pg_ctl" ]; then
			printf '%s\n' "$DBACTOR_PG_BINDIR"
			return 0
		fi
		pg_log "DBACTOR_PG_BINDIR=$DBACTOR_PG_BINDIR has no pg_ctl; ignoring it"
	fi
	# Newest major version first (sort -V on the version component).
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -V -r); do
		if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	if d=$(command -v pg_ctl 2>/dev/null) && [ -n "$d" ]; then
		d=$(dirname "$(readlink -f "$d")")
		if [ -x "$d/initdb" ]; then
			printf '%s\n' "$d"
			return 0
		fi
	fi
	return 1
}

# pg_client TOOL: print the path of a client tool (psql, pg_isready),
# preferring the server bindir, then PATH.
pg_client() {
	local tool=$1 dir
	if dir=$(pg_find_bindir) && [ -x "$dir/$tool" ]; then
		printf '%s\n' "$dir/$tool"
		return 0
	fi
	command -v "$tool" 2>/dev/null
}

# pg_as_owner CMD...: run CMD as the cluster owner. initdb, pg_ctl and
# postgres refuse to run as root, so as root this is `runuser -u postgres`
# (from /, so an unreadable working directory does not matter); as any
# other user it runs CMD directly.
pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# pg_state_dir: the directory holding our throwaway cluster:
# ${TMPDIR:-/tmp}/dbactor-pg-<uid>, or $DBACTOR_PG_STATE_DIR if set. As root,
# the postgres user must be able to reach it; if TMPDIR is not reachable
# by postgres (e.g. under /root), /tmp is used instead.
pg_state_dir() {
	if [ -n "${DBACTOR_PG_STATE_DIR:-}" ]; then
		printf '%s\n' "$DBACTOR_PG_STATE_DIR"
		return 0
	fi
	local base=${TMPDIR:-/tmp}
	base=${base%/}
	[ -n "$base" ] || base=/tmp
	if [ "$(id -u)" = 0 ] && [ "$base" != /tmp ] && id postgres >/dev/null 2>&1; then
		if ! (cd / && runuser -u postgres -- test -x "$base") 2>/dev/null; then
			base=/tmp
		fi
	fi
	printf '%s/dbactor-pg-%s\n' "$base" "$(id -u)"
}
