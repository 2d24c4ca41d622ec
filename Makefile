# The two commands that matter: `make serve` (run the server with the bundled config) and
# `make test` (lint, types, and the whole test suite). `make install` sets up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install serve test lint unit bench

install:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'

serve:
	$(PY) -m secure_mcp serve --config config.toml

lint:
	$(PY) -m ruff check secure_mcp tools tests bench
	$(PY) -m mypy

test: lint
	$(PY) -m pytest

# The fast layer: no Docker, no Node, no server subprocess, no time-boxed fuzzing (CONTRIBUTING has
# the figure). Bytecode caching is switched back on: rewriting every test's asserts costs seconds.
unit:
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -m "not docker and not node and not process and not slow"

bench:
	$(PY) bench/run_all.py
