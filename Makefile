# Tutela developer commands. `make run` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_FLAGS ?=

.PHONY: run test test-all bench bench-large lint demo clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-base

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-base

## run: create .venv, install, and run the demo on SQLite
run: $(VENV)/.installed-base
	$(VENV)/bin/tutela demo

## lint: ruff and mypy (strict, src and tests)
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

## test: lint, then every test not marked slow. pytest's exit 5 (no tests ran) is a failure.
test: lint
	@$(PY) -m pytest -m "not slow" $(PYTEST_FLAGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

## test-all: the whole suite, slow tests included
test-all: lint
	@$(PY) -m pytest $(PYTEST_FLAGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

## bench: hashing and matching benchmarks against the peers (figures go to docs/performance.md)
bench: $(VENV)/.installed-bench
	$(PY) bench/hashing.py
	$(PY) bench/matching.py

bench-large: $(VENV)/.installed-bench
	$(PY) bench/matching.py --large

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
