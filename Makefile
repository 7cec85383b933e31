# tollgate — the commands the README and CI use.
GO      ?= go
BIN     ?= bin
PKGS    ?= ./...
FUZZTIME ?= 10s
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/tollgate/tollgate/broker.Version=$(VERSION)

.PHONY: all build test lint bench fuzz-smoke dev clean

all: build

## build: both binaries into ./bin
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/tollgate ./cmd/tollgated

## test: every test with the race detector (the README's and CI's test command)
test:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

## lint: go vet, and staticcheck when it is installed
lint:
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); \
	else echo "staticcheck not installed; skipped (go install honnef.co/go/tools/cmd/staticcheck@latest)"; fi
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

## bench: every benchmark (integration's BenchmarkLsProcess execs the built CLI against a
## warm daemon on awssim and reports the median in ms)
bench:
	$(GO) test -run='^$$' -bench=. -count=1 $(PKGS)

## fuzz-smoke: each fuzz target for $(FUZZTIME)
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-smoke.sh

## dev: a complete daemon on the simulated cloud
dev:
	$(GO) run ./cmd/tollgated dev

clean:
	rm -rf $(BIN)
