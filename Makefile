# mailguard's build, test and measurement commands. `make test` is what CI
# runs (.ci/run); `make help` lists the targets.

SHELL := bash
.DEFAULT_GOAL := build
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
MODULE := mailguard

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 60s
# Bounds on the test runs, so a hang fails the build instead of CI's clock.
UNIT_TIMEOUT ?= 15m
E2E_TIMEOUT ?= 10m
BENCH_TIMEOUT ?= 30m

STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck

# Debian packages the tests talk to, as command:package. A test whose peer
# is missing skips itself and says so; `make deps` installs the missing ones
# when run as root, and otherwise prints what to install.
DEB_DEPS := python3:python3 postfix:postfix clamd:clamav-daemon chromium:chromium redis-server:redis-server redis-cli:redis-tools
# What `make bench` adds: bogofilter, the peer the classifier is measured
# against.
BENCH_DEB_DEPS := bogofilter:bogofilter

.PHONY: help test deps lint vet staticcheck fmt-check unit e2e build bench bench-load fuzz clean

help:
	@echo "make test         deps, lint, unit tests with -race, e2e tests (what CI runs)"
	@echo "make build        static binary ./mailguard (version $(VERSION))"
	@echo "make lint         gofmt, go vet, staticcheck"
	@echo "make bench        every Go benchmark, with allocations (installs bogofilter to compare with), then the load run"
	@echo "make bench-load   the load run alone: smtp-source through mailguard vs smtp-sink, one table"
	@echo "make fuzz         every fuzz target for FUZZTIME (now $(FUZZTIME)) each"
	@echo "make deps         install the Debian packages the tests use"

test: deps lint unit e2e

deps:
	@missing=(); \
	for dep in $(DEB_DEPS); do \
		cmd=$${dep%%:*}; pkg=$${dep#*:}; \
		if ! command -v "$$cmd" >/dev/null 2>&1 && ! dpkg -s "$$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then \
			missing+=("$$pkg"); \
		fi; \
	done; \
	if (( $${#missing[@]} == 0 )); then exit 0; fi; \
	if [[ $$(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then \
		echo "make deps: missing Debian packages: $${missing[*]}"; \
		echo "make deps: install them with: sudo apt-get install -y $${missing[*]} (the tests that need them skip meanwhile)"; \
		exit 0; \
	fi; \
	echo "make deps: installing $${missing[*]}"; \
	if [[ " $${missing[*]} " == *" postfix "* ]]; then \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "$${missing[@]}"

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [[ -n $$out ]]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

# Everything but e2e, with the race detector; also the go-smtp copy carried
# in third_party (its own module).
unit:
	$(GO) test -race -timeout $(UNIT_TIMEOUT) $$($(GO) list ./... | grep -v '^$(MODULE)/e2e')
	$(GO) -C third_party/go-smtp test -race -timeout $(UNIT_TIMEOUT) ./...

# The built binary driven as an operator would (the tests build it). Never
# from the test cache: the cache cannot see the binary the tests build, so
# a result would outlive a change to the code it tested.
e2e:
	$(GO) test -count=1 -timeout $(E2E_TIMEOUT) ./e2e/...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o mailguard ./cmd/mailguard

# Packages holding a Benchmark or a Fuzz function.
bench_pkgs = $$(grep -rl --include='*_test.go' '^func Benchmark' . | xargs -r -n1 dirname | sort -u)
fuzz_pkgs = $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u)

# One package at a time (-p 1): benchmarks running side by side would
# measure each other.
bench:
	@$(MAKE) --no-print-directory deps DEB_DEPS="$(DEB_DEPS) $(BENCH_DEB_DEPS)"
	@pkgs="$(bench_pkgs)"; \
	if [[ -z $$pkgs ]]; then echo "no benchmarks"; exit 0; fi; \
	$(GO) test -p 1 -run '^$$' -bench . -skip '^BenchmarkLoad$$' -benchmem -timeout $(BENCH_TIMEOUT) $$pkgs
	@$(MAKE) --no-print-directory bench-load

# The load run (e2e/load_bench_test.go): smtp-source through mailguard with
# every filter on against smtp-sink alone; prints one table.
bench-load:
	@$(MAKE) --no-print-directory deps
	$(GO) test -run '^$$' -bench '^BenchmarkLoad$$' -benchtime 1x -timeout $(BENCH_TIMEOUT) ./e2e

# Each target runs even when an earlier one fails; the failures are listed
# at the end (their inputs are saved under the package's testdata/fuzz).
fuzz:
	@failed=(); \
	for pkg in $(fuzz_pkgs); do \
		for target in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz'); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg" || failed+=("$$pkg $$target"); \
		done; \
	done; \
	if (( $${#failed[@]} )); then printf 'fuzz: FAILED %s\n' "$${failed[@]}"; exit 1; fi

clean:
	rm -f mailguard
