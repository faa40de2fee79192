# Two commands do all set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# A COUNTER client in a virtualenv of its own (tests/usage/test_counter_client.py): its pins conflict
# with Lienhop's. The stamp holds the requirements it was made from (the test remakes it when they change).
COUNTER_VENV := .venv-counter
COUNTER_REQUIREMENTS := tests/usage/counter_client/requirements.txt

.PHONY: run test lint elasticsearch bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,postgres]'
	touch $(STAMP)

$(COUNTER_VENV)/.installed-stamp: $(COUNTER_REQUIREMENTS)
	$(PYTHON) -m venv --clear $(COUNTER_VENV)
	$(COUNTER_VENV)/bin/python -m pip install -q -r $(COUNTER_REQUIREMENTS)
	cp $(COUNTER_REQUIREMENTS) $@

## Harvest the demo consortium into ./var, then serve http://localhost:8000
run: $(STAMP)
	$(BIN)/lienhop demo
	LIENHOP_DEMO_PROVIDER=1 $(BIN)/lienhop serve

## The whole suite: lint, format check, types (mypy), then every test (starts its own search node)
test: $(STAMP) $(COUNTER_VENV)/.installed-stamp
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
	rm -rf $(VENV) $(COUNTER_VENV) var .pytest_cache
