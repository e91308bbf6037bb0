# Every target creates .venv if it is missing, so `make demo` and `make test` work on a fresh clone.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test lint bench sandbox clean

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
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pyright

bench: $(STAMP)
	bash tests/prepare.sh
	for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

sandbox: $(STAMP)
	$(BIN)/msgflash-mcp sandbox

clean:
	rm -rf $(VENV) build *.egg-info tests/clients/node_modules
