# Strongroom. The two commands of the README:
#   make run    install what is missing, then run the key server in the
#               foreground (token, database and certificates under $(DATA))
#   make test   install what is missing, then every test: vet, unit tests
#               with the race detector, a bounded fuzz run of the TTLV
#               decoder, and the end-to-end tests against a real SoftHSM2
#               token and a real PostgreSQL that the tests start themselves
# Also: make build | lint | bench | conformance (docs/CONFORMANCE.md) | deb.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Go lives in /usr/local/go; a fresh shell or CI may not have it on PATH.
export PATH := $(PATH):/usr/local/go/bin

GO ?= go
# All state of `make run`. Inside the clone (and gitignored) rather than in
# $(HOME): when make runs as root, PostgreSQL runs as the postgres user, who
# cannot traverse root's home (mode 0700).
DATA ?= $(CURDIR)/.data
KMIP_PORT ?= 5696
FUZZTIME ?= 30s
TEST_TIMEOUT ?= 40m
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test deps build lint bench conformance deb

deps:
	bash deploy/dev/install-deps.sh

run: deps
	KMIP_PORT=$(KMIP_PORT) bash deploy/dev/run.sh "$(DATA)"

# Unit and end-to-end tests run in one `go test` (softhsm-tests has no build
# tag: a skipped end-to-end test proves nothing), then the bounded fuzz run
# (minimizing a new input may take 5 s of it, not the default 60: in a 30 s
# run on a fresh clone minimization took 22 s of FuzzJSON's budget).
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./kmip/ttlv
	$(GO) test -run='^$$' -fuzz=FuzzJSON -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./kmip/ttlv

build:
	$(GO) build -o bin/strongroom ./cmd/strongroom

# Debian package (dpkg-deb): binary, hardened systemd unit, default
# /etc/strongroom/strongroom.json; written to dist/.
deb:
	bash deploy/debian/build.sh dist

lint:
	@unformatted=$$(gofmt -l .); \
	if [[ -n $$unformatted ]]; then echo "gofmt -l:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@if command -v shellcheck >/dev/null; then shellcheck -x deploy/dev/*.sh .ci/run; \
	else echo "lint: shellcheck is not installed (apt-get install shellcheck); shell scripts not checked"; fi

bench: deps
	bash deploy/bench/compare.sh

# Replays the OASIS KMIP test cases (../shared/kmip-vectors) against a
# throwaway node and writes docs/CONFORMANCE.md; failing cases are recorded
# there, not a failure of the target.
conformance: deps
	bash deploy/dev/conformance.sh
