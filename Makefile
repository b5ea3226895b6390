# One command to run, one to test; both build .venv from scratch on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DOMAIN  := $(wildcard exchange/domain/*.py)
NATIVE  := exchange/domain/.compiled
NODE    := node_modules/.installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run run-cluster test lint typecheck unit unit-interpreted unit-compiled compile clean-compiled \
        system-deps browser fuzz fuzz-atheris fuzz-schemathesis \
        bench-engine bench-rest bench-ws bench-durability clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,redis]'
	touch $(STAMP)

# Browser libraries (lightweight-charts), exactly as package-lock.json pins them; served as files.
$(NODE): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE)

# What the tests need from the machine, installed once if missing (no test skips for want of
# it): Debian's Chromium for the browser tests (never `playwright install`), redis-server for
# the Redis bus.
SYSTEM_DEPS = $(if $(wildcard /usr/bin/chromium),,chromium) \
              $(if $(shell command -v redis-server),,redis-server)
system-deps:
	@if [ -n "$(strip $(SYSTEM_DEPS))" ]; then $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(SYSTEM_DEPS); fi

# The engine core compiled with mypyc (exchange/devtools/build.py); rebuilt when a domain file changes.
$(NATIVE): $(STAMP) $(DOMAIN)
	$(BIN)/python -m exchange.devtools.build compile

compile: $(NATIVE)

clean-compiled: $(STAMP)
	$(BIN)/python -m exchange.devtools.build clean

run: $(NATIVE) $(NODE)
	$(BIN)/python -m exchange serve --data-dir data

# One engine (operator routes on :8090) and two gateways (:8081, :8082) on the local Redis,
# which is started (no persistence) if none answers at REDIS_URL. Ctrl-C stops them all.
REDIS_URL ?= redis://127.0.0.1:6379
run-cluster: $(NATIVE) $(NODE)
	$(BIN)/python -m exchange.devtools.cluster --redis $(REDIS_URL) --data-dir data/cluster

lint: $(STAMP)
	$(BIN)/ruff check exchange tests bench
	$(BIN)/ruff format --check exchange tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Every test twice: on the interpreted engine, then on the compiled one that `make run` serves;
# the browser tests once, on the latter, in a pytest run of their own: Playwright's sync API
# keeps an event loop running in the main thread, which async tests after it cannot share.
unit-interpreted: clean-compiled $(NODE) system-deps
	$(BIN)/pytest --ignore=tests/browser -m "not once"

unit-compiled: unit-interpreted
	$(BIN)/python -m exchange.devtools.build compile
	$(BIN)/pytest --ignore=tests/browser

browser: unit-compiled
	$(BIN)/pytest tests/browser

unit: browser

test: lint typecheck unit

# Fuzzing the parsers of strangers' bytes (tests/fuzz/, tests/README.md "Fuzzing"): each step a
# run of fixed length, one after another; a new kind of long run is one more step in FUZZ_STEPS.
# atheris: the decimal parser, the native bodies and signature, the Binance parameters and
# signature, FUZZ_SECONDS each, on the interpreted engine (coverage is read from Python
# bytecode), ending with a JSON summary per target; inputs found and crashes in build/fuzz/.
FUZZ_SECONDS ?= 100
FUZZ_STEPS   := fuzz-atheris fuzz-schemathesis
fuzz: $(FUZZ_STEPS)

# schemathesis: tests/contract/test_schemathesis.py with FUZZ_EXAMPLES per operation (25 in
# `make test`) and fresh random cases, its figures in build/fuzz/schemathesis.json.
FUZZ_EXAMPLES ?= 400
fuzz-schemathesis: $(NATIVE) $(NODE)
	mkdir -p build/fuzz
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_STATEFUL_STEPS=40 FUZZ_RANDOM=1 FUZZ_SUMMARY=build/fuzz/schemathesis.json \
		$(BIN)/pytest tests/contract/test_schemathesis.py -p no:cacheprovider --timeout 0 -q
	cat build/fuzz/schemathesis.json

fuzz-atheris: clean-compiled
	$(BIN)/pip install --quiet -e '.[dev,redis,fuzz]'
	$(BIN)/python tests/fuzz/run.py --seconds $(FUZZ_SECONDS) --out build/fuzz

bench-engine: $(NATIVE)
	$(BIN)/python -m bench.engine --json

bench-rest: $(NATIVE) $(NODE)
	$(BIN)/pip install --quiet -e '.[dev,redis,bench]'
	$(BIN)/python -m bench.rest --json

bench-ws: $(NATIVE) $(NODE)
	$(BIN)/python -m bench.ws --json

bench-durability: $(NATIVE) $(NODE)
	$(BIN)/python -m bench.durability --json

clean: clean-compiled
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build
