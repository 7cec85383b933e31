# tollgate — the commands the README and CI use.
GO      ?= go
BIN     ?= bin
PKGS    ?= ./...
FUZZTIME ?= 10s
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/tollgate/tollgate/broker.Version=$(VERSION)

.PHONY: all build test test-sqlite lint bench fuzz-smoke dev clean

all: build

## build: both binaries into ./bin
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/tollgate ./cmd/tollgated

# ENGINE_PKGS are the packages whose harnesses run on the storage engine that
# TOLLGATE_TEST_ENGINE names: `make test` runs them a second time on PostgreSQL.
ENGINE_PKGS ?= ./db/... ./audit/... ./enforce/... ./fleet/... ./accounting/... ./broker/... \
	./iamusers/... ./regions/... ./balancer/... ./daemon/... ./cmd/tollgated/...

## test: every test with the race detector on SQLite, then the storage and broker
## packages again on PostgreSQL, and the PostgreSQL schema against SQLite's, all on a
## throw-away PostgreSQL server (scripts/with-postgres.sh; the README's and CI's test command)
test:
	./scripts/with-postgres.sh sh -c '$(GO) test -race -count=1 -timeout 30m $(PKGS) && \
		TOLLGATE_TEST_ENGINE=postgres $(GO) test -race -count=1 -timeout 30m $(ENGINE_PKGS)'
	./scripts/check-postgres-schema.sh

# POSTGRES_ONLY matches the tests that need a PostgreSQL server whatever the engine
# (they fail, naming TOLLGATE_TEST_POSTGRES, without one): test-sqlite skips them.
POSTGRES_ONLY ?= Postgres|LeaderTakeover|LeadOneAtATime|AcrossHosts|BothEngines

## test-sqlite: the tests without PostgreSQL, plain go test with the race detector: the
## storage and broker tests then run on SQLite only, and the tests POSTGRES_ONLY matches are skipped
test-sqlite:
	env -u TOLLGATE_TEST_POSTGRES -u TOLLGATE_TEST_ENGINE $(GO) test -race -count=1 -timeout 30m -skip '$(POSTGRES_ONLY)' $(PKGS)

## lint: go vet, and staticcheck when it is installed
lint:
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); \
	else echo "staticcheck not installed; skipped (go install honnef.co/go/tools/cmd/staticcheck@latest)"; fi
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

## bench: every benchmark (integration's BenchmarkLsProcess execs the built CLI against a
## warm daemon on awssim and reports the median in ms)
bench:
	./scripts/with-postgres.sh $(GO) test -run='^$$' -bench=. -count=1 $(PKGS)

## fuzz-smoke: each fuzz target for $(FUZZTIME)
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-smoke.sh

## dev: a complete daemon on the simulated cloud
dev:
	$(GO) run ./cmd/tollgated dev

clean:
	rm -rf $(BIN)
