# Rotor — build, run and test. `make run` starts Rotor; `make test` is what CI runs.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         := bin

.PHONY: all build run test lint vet fmt-check staticcheck bench load load-scale clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Rotor on the embedded store in ./rotor-data; the first start creates a demo
# client and user and prints them.
run: build
	$(BIN)/rotor serve --demo

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

# The tests' JSON stream goes through internal/testreport: it prints each
# package's result, the output of failed tests and the counts, keeps the
# whole stream in $(BIN)/test.json, and under CI=true fails on any skip but
# those of the helper processes named here (tests re-run their own binary
# as TestHelperProcess, which skips when run on its own).
ALLOWED_SKIPS := TestHelperProcess

test: lint
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/testreport ./internal/testreport
	$(GO) test -race -count=1 -json ./... 2>&1 | $(BIN)/testreport -allow-skip $(ALLOWED_SKIPS) -o $(BIN)/test.json

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# HTTP load on loopback against a Rotor (on a throwaway Postgres) and the
# example API that rotor-load starts itself; bounded in time and requests.
load: build
	$(BIN)/rotor-load $(LOAD_FLAGS)

# The scale profile (BENCHMARKS.md, Scale): client_credentials, refresh and
# password on a fresh Postgres seeded with 0, 100k and 10M refresh tokens
# and 1M users, and a purge of the expired families under refresh load.
# Needs a few GB of disk and about half an hour; smaller sizes with e.g.
# SCALE_FLAGS='-scale-tokens 0,100000 -scale-users 100000'.
load-scale: build
	$(BIN)/rotor-load -scale $(SCALE_FLAGS)

clean:
	rm -rf $(BIN)
