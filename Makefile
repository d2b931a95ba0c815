# dbactor developer tasks.
#
#   make test         full race-enabled suite (scripts/test.sh); what CI runs
#   make bench        benchmarks in ./tests/bench/...
#   make reliability  reliability/fault tests in ./tests/...
#   make security     the trust boundary's attack suite (./tests/security), as a table
#   make fuzz         every Fuzz target, FUZZTIME each (default 20s)
#   make lint         gofmt (generated *.pb.go excluded) + go vet + staticcheck
#                     (STATICCHECK_VERSION, installed into bin/); CI runs it
#                     before make test, and it must report nothing
#   make proto        regenerate messages/messages.pb.go
#
# PostgreSQL: scripts/ensure-postgres.sh picks $DBACTOR_TEST_DATABASE, the
# shared server on 127.0.0.1:5432, or starts a throwaway cluster (stop it with
# scripts/stop-throwaway-postgres.sh). Headless Chromium (the status page's
# browser test): scripts/ensure-chromium.sh picks $DBACTOR_CHROMIUM or
# chromium on PATH, else apt-get installs Debian's chromium as root.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO ?= go
FUZZTIME ?= 20s
MODULE := github.com/dbactor/dbactor
BIN_DIR := $(CURDIR)/bin
PROTOC ?= protoc
PROTOC_GEN_GO_VERSION := v1.36.12
# staticcheck 2026.2.2. Installed with go install pkg@version, not a tool
# line in go.mod: it stays out of the module graph users of dbactor see.
STATICCHECK_VERSION := v0.8.2
PROTOACTOR_MODULE := github.com/asynkron/protoactor-go
PROTOACTOR_VERSION := v0.0.0-20240822202345-3c0e61ca19c9
PROTO_WKT_INCLUDE := /usr/include

# Shell prefix: export DBACTOR_TEST_DATABASE from scripts/ensure-postgres.sh.
# Under CI=true a missing server is fatal; locally the PostgreSQL tests skip.
WITH_PG = if dsn=$$(bash scripts/ensure-postgres.sh); then export DBACTOR_TEST_DATABASE="$$dsn"; \
	elif [ "$${CI:-}" = true ]; then echo "ERROR: no PostgreSQL available (CI=true); set DBACTOR_TEST_DATABASE" >&2; exit 1; \
	else echo "WARNING: no PostgreSQL available; tests that need it will skip (set DBACTOR_TEST_DATABASE)" >&2; fi

.PHONY: test bench reliability security fuzz lint proto

test:
	bash scripts/test.sh

bench:
	$(WITH_PG); \
	GO='$(GO)' bash scripts/bench.sh

reliability:
	$(WITH_PG); \
	DBACTOR_RELIABILITY=1 $(GO) test -race -count=1 -timeout 20m -run Reliability -v ./tests/... 2>&1 | bash scripts/reliability-table.sh

security:
	$(WITH_PG); \
	$(GO) test -race -count=1 -timeout 10m -run '^TestSecurity$$' -v ./tests/security/ 2>&1 | bash scripts/security-table.sh

fuzz:
	@$(WITH_PG); \
	for pkg in $$($(GO) list ./...); do \
	    names=$$($(GO) test -list '^Fuzz' "$$pkg") || { printf '%s\n' "$$names"; exit 1; }; \
	    for name in $$(printf '%s\n' "$$names" | grep '^Fuzz' || true); do \
	        echo "==> $$pkg $$name (-fuzztime=$(FUZZTIME))"; \
	        $(GO) test -run='^$$' -fuzz="^$${name}\$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
	    done; \
	done

lint:
	@unformatted=$$(find . -type f -name '*.go' ! -name '*.pb.go' \
	    ! -path './.git/*' ! -path './bin/*' ! -path './tmp/*' ! -path '*/testdata/*' \
	    -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
	    echo "gofmt -l reports unformatted files (run gofmt -w on them):" >&2; \
	    printf '%s\n' "$$unformatted" >&2; \
	    exit 1; \
	fi
	$(GO) vet ./...
	@if ! "$(BIN_DIR)/staticcheck" -version 2>/dev/null | grep -qF "($(STATICCHECK_VERSION:v%=%))"; then \
	    echo "==> installing staticcheck $(STATICCHECK_VERSION) into bin/"; \
	    GOBIN="$(BIN_DIR)" $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi
	"$(BIN_DIR)/staticcheck" ./...

proto:
	@if ! command -v $(PROTOC) >/dev/null 2>&1 || [ ! -f $(PROTO_WKT_INCLUDE)/google/protobuf/timestamp.proto ]; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "protoc or the well-known .proto files are missing: apt-get install protobuf-compiler libprotobuf-dev" >&2; exit 1; \
	    fi; \
	    echo "==> installing protobuf-compiler libprotobuf-dev"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update </dev/null && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev </dev/null; \
	fi
	@if ! "$(BIN_DIR)/protoc-gen-go" --version 2>/dev/null | grep -qxF "protoc-gen-go $(PROTOC_GEN_GO_VERSION)"; then \
	    echo "==> installing protoc-gen-go $(PROTOC_GEN_GO_VERSION) into bin/"; \
	    GOBIN="$(BIN_DIR)" $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION); \
	fi
	@$(GO) mod download $(PROTOACTOR_MODULE) || echo "WARNING: could not download $(PROTOACTOR_MODULE); imports of actor.proto will fail" >&2
	$(PROTOC) --version
	$(PROTOC) \
	    -I messages \
	    -I "$$($(GO) env GOMODCACHE)/$(PROTOACTOR_MODULE)@$(PROTOACTOR_VERSION)/actor" \
	    -I $(PROTO_WKT_INCLUDE) \
	    --plugin=protoc-gen-go="$(BIN_DIR)/protoc-gen-go" \
	    --go_out=. --go_opt=module=$(MODULE) \
	    messages/messages.proto
