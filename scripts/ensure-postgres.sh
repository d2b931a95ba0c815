#!/usr/bin/env bash
# ensure-postgres.sh: print one line to stdout, a DSN of a reachable
# PostgreSQL server for the tests; all diagnostics go to stderr.
#
#   DSN=$(scripts/ensure-postgres.sh) && DBACTOR_TEST_DATABASE=$DSN go test ./...
#
# Order:
#   1. $DBACTOR_TEST_DATABASE, if set. It is verified (pg_isready + a query);
#      if it is not reachable the script fails. A configured server is never
#      silently replaced by another one.
#   2. The shared local server, postgres://postgres@127.0.0.1:5432/test
#      (override with $DBACTOR_PG_DEFAULT_DSN, a postgres:// URI). If the
#      server answers but database "test" is missing, it is created.
#   3. A throwaway cluster of our own, kept in ${TMPDIR:-/tmp}/dbactor-pg-<uid>
#      (override with $DBACTOR_PG_STATE_DIR): initdb with trust auth,
#      listening on 127.0.0.1 on a random free port, with a database "test".
#      It keeps running after this script exits and is reused by later runs
#      on the same machine (also restarted if it was stopped).
#      Stop it (and delete its data) with scripts/stop-throwaway-postgres.sh.
#
# Other knobs: $DBACTOR_PG_BINDIR (directory with initdb/pg_ctl/psql; default
# the newest /usr/lib/postgresql/*/bin, then PATH). Under CI=true, as root,
# with no PostgreSQL binaries installed, `apt-get install -y postgresql` is
# tried as a last resort.
#
# Exit status: 0 and a DSN on stdout, or non-zero with a message on stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/pg-common.sh
. "$here/pg-common.sh"

DEFAULT_DSN=${DBACTOR_PG_DEFAULT_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5}

die() {
	pg_log "ERROR: $*"
	pg_log "Set DBACTOR_TEST_DATABASE to the DSN of a reachable PostgreSQL server (e.g. postgres://user:pass@host:5432/test?sslmode=disable) to run the PostgreSQL tests."
	exit 1
}

is_ci() {
	case "${CI:-}" in true | TRUE | True | 1) return 0 ;; esac
	return 1
}

PSQL=""
PG_ISREADY=""
resolve_clients() {
	PSQL=$(pg_client psql || true)
	PG_ISREADY=$(pg_client pg_isready || true)
}

# install_postgres: last resort under CI (as root): install Debian's
# postgresql package, which brings initdb, pg_ctl, psql and pg_isready.
install_postgres() {
	if ! is_ci || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		return 1
	fi
	pg_log "no PostgreSQL binaries found; CI=true, installing Debian package postgresql (last resort)"
	export DEBIAN_FRONTEND=noninteractive
	timeout 900 apt-get update >&2 || true
	timeout 1200 apt-get install -y --no-install-recommends postgresql >&2 || return 1
	resolve_clients
}

# server_answers DSN: the server behind DSN accepts connections (no auth check).
server_answers() {
	if [ -n "$PG_ISREADY" ]; then
		"$PG_ISREADY" -q -t 5 -d "$1" >/dev/null 2>&1
	else
		query "$1" 'select 1' >/dev/null 2>&1
	fi
}

# query DSN SQL: run SQL, print unaligned tuples-only output.
query() {
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# uri_db URI: the database name in a postgres:// URI (may be empty).
uri_db() {
	local u=${1%%\?*}
	u=${u#*://}
	case $u in */*) printf '%s\n' "${u#*/}" ;; *) printf '\n' ;; esac
}

# uri_with_db URI DB: URI with its database replaced by DB.
uri_with_db() {
	local u=$1 db=$2 q="" scheme rest
	case $u in *\?*) q="?${u#*\?}" u=${u%%\?*} ;; esac
	scheme=${u%%://*}
	rest=${u#*://}
	printf '%s://%s/%s%s\n' "$scheme" "${rest%%/*}" "$db" "$q"
}

# prepare DSN: make DSN usable, creating its database if the server answers
# but the database does not exist. Returns non-zero if that fails.
prepare() {
	local dsn=$1 db maint exists out
	if query "$dsn" 'select 1' >/dev/null 2>&1; then
		return 0
	fi
	db=$(uri_db "$dsn")
	if [ -z "$db" ] || [ "$db" = postgres ]; then
		query "$dsn" 'select 1' >/dev/null || true # show why
		return 1
	fi
	maint=$(uri_with_db "$dsn" postgres)
	if ! exists=$(query "$maint" "select 1 from pg_database where datname = '${db//\'/\'\'}'"); then
		pg_log "cannot query the maintenance database of $(pg_redact "$dsn")"
		return 1
	fi
	if [ "$exists" != 1 ]; then
		pg_log "database \"$db\" is missing on $(pg_redact "$maint"); creating it"
		if ! out=$(query "$maint" "create database \"${db//\"/\"\"}\"" 2>&1); then
			case $out in
			*"already exists"*) ;; # created concurrently
			*)
				pg_log "$out"
				return 1
				;;
			esac
		fi
	fi
	query "$dsn" 'select 1' >/dev/null
}

# ---------------------------------------------------------------------------
# Throwaway cluster.

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
	local p i
	for i in $(seq 1 50); do
		# Below the Linux ephemeral range (32768+) to avoid clashes with
		# outgoing connections.
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		if ! port_busy "$p"; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}

show_log_tail() {
	if [ -f "$LOGF" ]; then
		pg_log "last lines of $LOGF:"
		tail -n 25 "$LOGF" | sed 's/^/    /' >&2 || true
	fi
}

# ours PORT: the server on PORT is our cluster (its data_directory is $DATA).
ours() {
	local dir
	dir=$(query "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable" 'show data_directory' 2>/dev/null) || return 1
	[ "$(readlink -f "$dir")" = "$(readlink -f "$DATA")" ]
}

write_conf() {
	local port=$1
	cat >"$DATA/dbactor.conf" <<EOF
# Written by scripts/ensure-postgres.sh; rewritten on every start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$SOCK'
max_connections = 200
# Throwaway test cluster: durability is not needed.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
	if ! grep -q "^include_if_exists = 'dbactor.conf'" "$DATA/postgresql.conf"; then
		printf "\ninclude_if_exists = 'dbactor.conf'\n" >>"$DATA/postgresql.conf"
	fi
	[ "$(id -u)" != 0 ] || chown postgres: "$DATA/dbactor.conf" "$DATA/postgresql.conf"
	printf '%s\n' "$port" >"$STATE/port"
}

init_cluster() {
	pg_log "initdb $DATA"
	rm -rf "$DATA"
	if ! pg_as_owner timeout 120 "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >&2 9>&-; then
		pg_log "initdb failed"
		return 1
	fi
}

# start_cluster PORT: pg_ctl start; non-zero on failure.
start_cluster() {
	write_conf "$1"
	pg_log "starting throwaway cluster on 127.0.0.1:$1 (log: $LOGF)"
	# 9>&-: the postmaster must not inherit our lock.
	pg_as_owner timeout 60 "$BINDIR/pg_ctl" -D "$DATA" -l "$LOGF" -w -t 30 start >&2 9>&-
}

wait_ready() {
	local port=$1 i
	for i in $(seq 1 60); do
		if "$PG_ISREADY" -q -t 2 -h 127.0.0.1 -p "$port" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

throwaway() {
	BINDIR=$(pg_find_bindir) || {
		install_postgres || true
		BINDIR=$(pg_find_bindir) || {
			pg_log "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or PATH"
			return 1
		}
	}
	[ -n "$PG_ISREADY" ] || PG_ISREADY=$(pg_client pg_isready || true)
	[ -n "$PSQL" ] || PSQL=$(pg_client psql || true)
	if [ -z "$PSQL" ] || [ -z "$PG_ISREADY" ]; then
		pg_log "psql/pg_isready not found next to $BINDIR or on PATH"
		return 1
	fi
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || {
			pg_log "running as root but there is no 'postgres' user to own the cluster (initdb refuses root)"
			return 1
		}
		command -v runuser >/dev/null 2>&1 || {
			pg_log "running as root but runuser is missing"
			return 1
		}
	fi

	STATE=$(pg_state_dir)
	DATA=$STATE/data
	LOGF=$STATE/postgres.log
	SOCK=$STATE/sock
	if [ ${#SOCK} -gt 80 ]; then # unix socket paths are limited to ~107 bytes
		SOCK=/tmp/dbactor-pg-sock-$(id -u)
	fi
	mkdir -p "$STATE" "$SOCK"
	chmod 755 "$STATE" "$SOCK"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$STATE" "$SOCK"
	fi

	# Serialize concurrent invocations (e.g. `make test` and `make bench`).
	exec 9>>"$STATE/lock"
	if command -v flock >/dev/null 2>&1; then
		flock -w 300 9 || {
			pg_log "timed out waiting for the lock $STATE/lock"
			return 1
		}
	fi

	local port want have attempt dsn
	port=$(cat "$STATE/port" 2>/dev/null || true)
	case $port in '' | *[!0-9]*) port="" ;; esac

	# Reuse a running cluster of ours.
	if [ -n "$port" ] && [ -f "$DATA/PG_VERSION" ] && ours "$port"; then
		dsn="postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
		if prepare "$dsn"; then
			pg_log "reusing running throwaway cluster $DATA on port $port"
			printf '%s\n' "$dsn"
			return 0
		fi
		pg_log "running throwaway cluster is unusable; re-creating it"
		pg_as_owner timeout 60 "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >&2 9>&- || true
	elif [ -f "$DATA/postmaster.pid" ]; then
		# Possibly a cluster of ours that is not answering: stop it first.
		pg_as_owner timeout 60 "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >&2 9>&- 2>/dev/null || true
	fi

	want=$("$BINDIR/pg_ctl" --version | sed -E 's/.*\) ([0-9]+).*/\1/')
	have=$(cat "$DATA/PG_VERSION" 2>/dev/null || true)
	if [ "$have" != "$want" ]; then
		[ -z "$have" ] || pg_log "data directory is for PostgreSQL $have, binaries are $want; re-creating"
		init_cluster || return 1
	fi

	for attempt in 1 2 3 4 5; do
		if [ -z "$port" ] || port_busy "$port"; then
			port=$(pick_port) || {
				pg_log "no free port found"
				return 1
			}
		fi
		if start_cluster "$port"; then
			break
		fi
		if [ -f "$LOGF" ] && tail -n 20 "$LOGF" | grep -q 'could not bind\|Address already in use\|could not create any TCP/IP sockets'; then
			pg_log "port $port taken; trying another one"
			port=""
			continue
		fi
		show_log_tail
		if [ "$attempt" = 1 ]; then
			# A damaged data directory (e.g. after a machine crash with
			# fsync=off): start over from scratch once.
			pg_log "start failed; re-creating the throwaway cluster"
			rm -f "$DATA/postmaster.pid"
			init_cluster || return 1
			continue
		fi
		return 1
	done

	if ! wait_ready "$port"; then
		pg_log "throwaway cluster did not become ready on port $port"
		show_log_tail
		return 1
	fi
	dsn="postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
	if ! prepare "$dsn"; then
		show_log_tail
		return 1
	fi
	pg_log "throwaway cluster ready: $DATA (port $port); stop it with scripts/stop-throwaway-postgres.sh"
	printf '%s\n' "$dsn"
}

# ---------------------------------------------------------------------------

resolve_clients
if [ -z "$PSQL" ]; then
	install_postgres || true
fi
if [ -z "$PSQL" ]; then
	die "psql not found (install the Debian package postgresql-client, or postgresql)"
fi

# 1. An explicitly configured server.
if [ -n "${DBACTOR_TEST_DATABASE:-}" ]; then
	configured=$(pg_redact "$DBACTOR_TEST_DATABASE")
	if ! server_answers "$DBACTOR_TEST_DATABASE"; then
		if [ -n "$PG_ISREADY" ]; then
			pg_log "pg_isready: $("$PG_ISREADY" -t 5 -d "$DBACTOR_TEST_DATABASE" 2>&1 | sed "s#$DBACTOR_TEST_DATABASE#$configured#g" || true)"
		fi
		die "DBACTOR_TEST_DATABASE=$configured is set but no server answers there. Fix it, or unset it to let this script find or start a server."
	fi
	if ! out=$(query "$DBACTOR_TEST_DATABASE" 'select 1' 2>&1); then
		pg_log "psql: $out"
		die "DBACTOR_TEST_DATABASE=$configured is set but the server rejects the connection (see above). Fix it, or unset it to let this script find or start a server."
	fi
	pg_log "using DBACTOR_TEST_DATABASE=$configured"
	printf '%s\n' "$DBACTOR_TEST_DATABASE"
	exit 0
fi

# 2. The shared local server.
if server_answers "$DEFAULT_DSN"; then
	if prepare "$DEFAULT_DSN"; then
		pg_log "using $(pg_redact "$DEFAULT_DSN")"
		printf '%s\n' "$DEFAULT_DSN"
		exit 0
	fi
	pg_log "a server answers at $(pg_redact "$DEFAULT_DSN") but is not usable (see above); falling back to a throwaway cluster"
else
	pg_log "no PostgreSQL answering at $(pg_redact "$DEFAULT_DSN"); using a throwaway cluster"
fi

# 3. A throwaway cluster of our own.
if ! throwaway; then
	die "could not start a throwaway PostgreSQL cluster"
fi
