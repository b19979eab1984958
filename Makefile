# dogsearch: `make up` runs everything locally, `make test` installs what tests need and runs them.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
IMAGES ?=
ARGS ?=
REQUIREMENTS := requirements.txt scripts/requirements.txt encoder/requirements.txt \
	search-api/requirements.txt services/requirements.txt pyproject.toml

.PHONY: help up test test-deps lint format clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: $(REQUIREMENTS) | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

up: $(VENV)/.runtime ## start Milvus Lite, encoder, search API, ingest; UI at http://localhost:5000 (IMAGES=dir to index your own folder)
	$(BIN)/python scripts/up.py $(if $(IMAGES),--images $(IMAGES)) $(ARGS)

test-deps: $(VENV)/.dev ## install what the tests need

test: test-deps ## install what the tests need, lint, and run every test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(ARGS)

lint: $(VENV)/.dev ## ruff lint and format check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(VENV)/.dev ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .
