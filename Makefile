# Every target creates .venv if it is missing, so `make demo` and `make test` work on a fresh clone.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test lint bench sandbox bundle apps clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/msgflash-mcp demo

test: $(STAMP)
	bash tests/prepare.sh
	$(BIN)/ruff check .
	$(BIN)/pyright
	$(BIN)/pytest -n auto --maxprocesses=4

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pyright

bench: $(STAMP)
	bash tests/prepare.sh
	for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

sandbox: $(STAMP)
	$(BIN)/msgflash-mcp sandbox

# msgflash-mcp.mcpb, the one-click install for Claude Desktop, packed by the mcpb CLI pinned in bundle/.
bundle: bundle/node_modules/.package-lock.json
	$(PY) bundle/build.py msgflash-mcp.mcpb

bundle/node_modules/.package-lock.json: bundle/package-lock.json
	cd bundle && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Rebuild the MCP Apps views from apps/ (pinned toolchain) into server/apps/static; commit the outputs.
# Only UI work needs this: installing and running the server never needs Node.
apps:
	cd apps && npm ci --no-audit --no-fund --loglevel=error && npm run build

clean:
	rm -rf $(VENV) build *.egg-info tests/clients/node_modules bundle/node_modules msgflash-mcp.mcpb apps/node_modules
