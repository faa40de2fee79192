# Two commands do all set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint elasticsearch bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,postgres]'
	touch $(STAMP)

## Harvest the demo consortium into ./var, then serve http://localhost:8000
run: $(STAMP)
	$(BIN)/lienhop demo
	LIENHOP_DEMO_PROVIDER=1 $(BIN)/lienhop serve

## The whole suite: lint, format check, types (mypy), then every test (starts its own search node)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

## A development search node in the foreground on port 9200 (no Docker)
elasticsearch: $(STAMP)
	$(BIN)/python -m tests.search_node --port 9200 --foreground

bench: $(STAMP)
	$(BIN)/python bench/harvest.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/search.py

clean:
	rm -rf $(VENV) var .pytest_cache
