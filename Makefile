# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run    create .venv if missing, install, start the server on stdio
#   make test   the same set-up, then lint, type check and the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest clean

# Set-up output goes to stderr: `make -s run` is a stdio MCP server, and its stdout must carry only the protocol.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) 1>&2
	@$(BIN)/python -m pip install --quiet --upgrade pip 1>&2
	@$(BIN)/python -m pip install --quiet -e '.[dev]' 1>&2
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/mcp-server-images $(ARGS)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
