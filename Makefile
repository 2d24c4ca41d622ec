# The two commands that matter on a fresh clone, with nothing run before them:
#   make serve   run the server on stdio with the bundled config.toml
#   make test    ruff, mypy strict and the whole test suite
# Each installs what is missing first: .venv from the lock (constraints.txt, exported from uv.lock),
# the TypeScript interop client for the tests (npm ci), and the sandbox image when a Docker engine
# answers (otherwise one line says how to get one). `make install` does the same set-up on its own.
# Set-up output goes to stderr: on `make serve` stdout is the MCP stdio wire.
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= config.toml
STAMP := $(VENV)/.secure-mcp-installed
INTEROP := tests/interop/node_modules/.package-lock.json
TYPING_VIEW := build/typing/secure_mcp/tools
MAKEFLAGS += --no-print-directory

.PHONY: install serve test lint unit bench image interop lock

install: $(STAMP) interop

# The venv is (re)made when pyproject, setup.py or the lock change. Every version comes from the
# lock; the ranges in pyproject stay for people who install secure-mcp as a library.
$(STAMP): pyproject.toml setup.py constraints.txt
	@echo "make: installing secure-mcp and its locked dependencies into $(VENV)" >&2
	@test -x $(PY) || python3 -m venv $(VENV) >&2
	@$(PY) -m pip install -q --upgrade 'pip>=24' >&2
	@$(PY) -m pip install -q -c constraints.txt -e '.[dev]' >&2
	@mkdir -p $(dir $(TYPING_VIEW)) && ln -sfn ../../../tools $(TYPING_VIEW)
	@touch $@

# mypy cannot follow setuptools' package-dir mapping of tools/ to secure_mcp.tools: it reads the
# folder through this generated, git-ignored view (see [tool.mypy] mypy_path).
$(TYPING_VIEW):
	@mkdir -p $(dir $@) && ln -sfn ../../../tools $@

# The interop tests drive the official TypeScript SDK clients: installed when npm is present.
interop:
	@if [ -f $(INTEROP) ] && [ $(INTEROP) -nt tests/interop/package-lock.json ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  echo "make: installing the TypeScript interop client (npm ci in tests/interop)" >&2; \
	  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error) >&2; \
	else echo "make: npm not found: the interop tests need Node.js 18+ and npm (apt-get install nodejs npm)" >&2; fi

# The sandbox image named in $(CONFIG): built when missing or stale and an engine answers.
image: $(STAMP)
	@$(PY) -m secure_mcp sandbox build --if-missing --config $(CONFIG) >&2

serve: $(STAMP) image
	@$(PY) -m secure_mcp serve --config $(CONFIG)

lint: $(STAMP) $(TYPING_VIEW)
	$(PY) -m ruff check secure_mcp tools tests bench setup.py
	$(PY) -m mypy

# PYTEST_ARGS narrows the run (e.g. one file); `make test` alone runs everything.
test: $(STAMP) interop image lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The fast layer: no Docker, no Node, no server subprocess, no time-boxed fuzzing, property tests on
# a fifth of their examples (tests/properties.py), spread over every core (pytest-xdist). CONTRIBUTING
# has the figure. Bytecode caching is switched back on: rewriting every test's asserts costs seconds.
unit: $(STAMP)
	PYTHONDONTWRITEBYTECODE= SECURE_MCP_QUICK_PROPERTIES=1 $(PY) -m pytest -q -n auto -m "not docker and not node and not process and not slow"

bench: $(STAMP)
	$(PY) bench/run_all.py

# After changing dependencies in pyproject.toml: re-resolve uv.lock and re-export the constraints.
lock: $(STAMP)
	$(VENV)/bin/uv lock
	$(VENV)/bin/uv export --frozen --no-hashes --no-emit-project --extra dev --no-header --no-annotate -q -o constraints.txt
