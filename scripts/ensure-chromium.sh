#!/usr/bin/env bash
# ensure-chromium.sh: print one line to stdout, the path of a headless-capable
# Chromium for the browser tests (registry's status page); all diagnostics go
# to stderr.
#
#   CHROMIUM=$(scripts/ensure-chromium.sh) && DBACTOR_CHROMIUM=$CHROMIUM go test ./registry/
#
# Order:
#   1. $DBACTOR_CHROMIUM, if set: it must be executable (else the script
#      fails; a configured browser is never silently replaced).
#   2. chromium, chromium-browser, google-chrome on PATH.
#   3. As root with apt-get: install Debian's chromium package
#      (--no-install-recommends; apt-get update first if the package lists
#      do not know it), then 2. again.
#
# Exit status: 0 and a path on stdout, or non-zero with a message on stderr.
# scripts/test.sh treats a failure as fatal under CI=true; locally the
# browser tests then skip with a message naming DBACTOR_CHROMIUM.
set -euo pipefail

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }

if [ -n "${DBACTOR_CHROMIUM:-}" ]; then
	if [ -x "$DBACTOR_CHROMIUM" ] || command -v "$DBACTOR_CHROMIUM" >/dev/null 2>&1; then
		log "using DBACTOR_CHROMIUM=$DBACTOR_CHROMIUM"
		command -v "$DBACTOR_CHROMIUM"
		exit 0
	fi
	log "ERROR: DBACTOR_CHROMIUM=$DBACTOR_CHROMIUM is set but not executable"
	exit 1
fi

find_browser() {
	local b
	for b in chromium chromium-browser google-chrome; do
		if command -v "$b" >/dev/null 2>&1; then
			command -v "$b"
			return 0
		fi
	done
	return 1
}

if path=$(find_browser); then
	log "using $path"
	printf '%s\n' "$path"
	exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	log "no chromium on PATH and cannot install it (needs root and apt-get): apt-get install chromium, or set DBACTOR_CHROMIUM"
	exit 1
fi

log "no chromium on PATH; installing Debian package chromium"
export DEBIAN_FRONTEND=noninteractive
if ! timeout 1200 apt-get install -y --no-install-recommends chromium </dev/null >&2; then
	log "apt-get install failed; running apt-get update and retrying"
	timeout 900 apt-get update </dev/null >&2 || true
	timeout 1200 apt-get install -y --no-install-recommends chromium </dev/null >&2 || {
		log "ERROR: apt-get install chromium failed"
		exit 1
	}
fi

if path=$(find_browser); then
	log "installed $path"
	printf '%s\n' "$path"
	exit 0
fi
log "ERROR: chromium installed but not found on PATH"
exit 1
