# One command to run, one to test; both build .venv from scratch on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench-engine clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,redis]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m exchange serve --data-dir data

lint: $(STAMP)
	$(BIN)/ruff check exchange tests bench
	$(BIN)/ruff format --check exchange tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

bench-engine: $(STAMP)
	$(BIN)/python -m bench.engine --json

.PHONY: bench-rest
bench-rest: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,redis,bench]'
	$(BIN)/python -m bench.rest --json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
