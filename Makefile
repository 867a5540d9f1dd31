# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run    create .venv if missing, install what the server needs at run time, start it on stdio
#   make test   the same set-up plus the test tools, then lint, type check and the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest bench clean

# Set-up output goes to stderr: `make -s run` is a stdio MCP server, and its stdout must carry only the protocol.
$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 1>&2
	@$(BIN)/python -m pip install --quiet --upgrade pip 1>&2

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -e . 1>&2
	@touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -e '.[dev]' 1>&2
	@touch $(DEV_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	@$(BIN)/mcp-server-images $(ARGS)

test: lint typecheck pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

# Speed and memory figures against the emulator (see README, "Performance"); never part of `make test`.
bench: $(DEV_STAMP)
	$(BIN)/python -m tests.bench $(BENCH_ARGS)
