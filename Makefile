# Every target creates .venv if it is missing, so `make demo` and `make test` work on a fresh clone.
# Installs come from the committed uv.lock only: a fresh machine gets the versions the last green run
# had, not whatever upstream published that day. `make latest` is where the newest versions are tried.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# uv is itself locked (a dev dependency): the bootstrap installs the very version uv.lock names.
UV_VERSION := $(shell awk '/^name = "uv"$$/ { getline; gsub(/"/, "", $$3); print $$3; exit }' uv.lock)
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test lint latest lock-check bench sandbox bundle manifest schemas apps clean

# --locked: refuse to install when uv.lock no longer matches pyproject.toml (run `uv lock` and commit it).
$(STAMP): pyproject.toml uv.lock
	test -d $(VENV) || $(PY) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv sync -q --locked --extra dev --python $(BIN)/python
	touch $(STAMP)

lock-check: $(STAMP)
	$(BIN)/uv lock --check

demo: $(STAMP)
	$(BIN)/msgflash-mcp demo

test: $(STAMP) lock-check
	bash tests/prepare.sh
	$(BIN)/ruff check .
	$(BIN)/pyright
	$(BIN)/pytest -n auto --maxprocesses=4

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pyright

# The newest versions pyproject.toml's ranges allow, in a venv of their own, through lint and the whole
# suite: it tells us when upstream breaks us before a user finds out. When it passes, `uv lock --upgrade`
# (then `make test`) moves the lock forward.
LATEST := .venv-latest
latest:
	test -d $(LATEST) || $(PY) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade uv
	$(LATEST)/bin/uv pip install -q --python $(LATEST)/bin/python --upgrade --resolution highest -e ".[dev]"
	@echo "== newest allowed versions that differ from uv.lock:"
	@$(LATEST)/bin/python .ci/lock_drift.py uv.lock
	bash tests/prepare.sh
	$(LATEST)/bin/ruff check .
	$(LATEST)/bin/pyright --pythonpath $(LATEST)/bin/python
	$(LATEST)/bin/pytest -n auto --maxprocesses=4

bench: $(STAMP)
	bash tests/prepare.sh
	for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

sandbox: $(STAMP)
	$(BIN)/msgflash-mcp sandbox

# msgflash-mcp.mcpb, the one-click install for Claude Desktop, packed by the mcpb CLI pinned in bundle/
# (the uv of .venv re-locks the bundle's virtual project offline). It ships uv.lock and starts with uv run --frozen.
bundle: $(STAMP) manifest bundle/node_modules/.package-lock.json
	$(PY) bundle/build.py msgflash-mcp.mcpb

# The tools, prompts, version and Python of bundle/manifest.json, from the registry and pyproject.toml;
# commit the result (tests/bundle fails while it is stale).
manifest: $(STAMP)
	$(BIN)/python bundle/manifest_entries.py

# The tools' published schemas (server/call/published.py), from their declarations; commit the result
# (tests/contract/test_published_schemas.py fails while it is stale).
schemas: $(STAMP)
	$(BIN)/python -m tests.contract.test_published_schemas

bundle/node_modules/.package-lock.json: bundle/package-lock.json
	cd bundle && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Rebuild the MCP Apps views from apps/ (pinned toolchain) into server/apps/static; commit the outputs.
# Only UI work needs this: installing and running the server never needs Node.
apps:
	cd apps && npm ci --no-audit --no-fund --loglevel=error && npm run build

clean:
	rm -rf $(VENV) $(LATEST) build *.egg-info tests/clients/node_modules bundle/node_modules msgflash-mcp.mcpb apps/node_modules
