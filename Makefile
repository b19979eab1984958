# dogsearch: `make up` runs everything locally, `make test` installs what tests need and runs them.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
IMAGES ?=
ARGS ?=
REQUIREMENTS := requirements.txt scripts/requirements.txt encoder/requirements.txt \
	search-api/requirements.txt services/requirements.txt pyproject.toml

.PHONY: help up finetune test test-deps lint format screenshots compose-smoke

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

# Browser tests drive Debian's Chromium; Playwright never downloads a browser.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(shell id -u | grep -x 0),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

MILVUS ?= lite
up: $(VENV)/.runtime ## start Milvus (MILVUS=lite|server), encoder, search API, ingest; UI at http://localhost:5000 (IMAGES=dir to index your own folder)
	$(BIN)/python -m scripts.stack.up --milvus $(MILVUS) $(if $(IMAGES),--images $(IMAGES)) $(ARGS)

finetune: $(VENV)/.runtime ## fine-tune on Stanford Dogs' train split (else data/trainset) into data/checkpoints/finetuned.pt, which make up then serves
	@[ -d data/stanford-dogs/Images ] || [ -d data/trainset/Images ] || \
		$(BIN)/python -m scripts.jobs.download_stanford_dogs || true
	$(BIN)/python -m scripts.training.finetune --find-data --out data/checkpoints/finetuned.pt $(ARGS)

# axe-core (Deque's accessibility engine) for the browser tests: npm's own package, pinned with
# its hash in tests/browser/package-lock.json; Node.js and npm from Debian when missing.
AXE := tests/browser/node_modules/axe-core/axe.min.js
NPM ?= npm
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@command -v $(NPM) >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd tests/browser && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

test-deps: $(VENV)/.dev $(CHROMIUM) $(AXE) ## install what the tests need (Python packages, Chromium, axe-core)

test: test-deps ## install what the tests need, lint, and run every test (those touching Milvus on Lite and on the server)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(ARGS)
	$(BIN)/python -m pytest -m milvus --milvus=server $(ARGS)

lint: $(VENV)/.dev ## ruff lint and format check, mypy type check
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

format: $(VENV)/.dev ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

screenshots: test-deps ## retake the README's screenshots in docs/: desktop and phone, light and dark (needs ../shared/data)
	DOGSEARCH_SCREENSHOT_DIR=docs $(BIN)/python -m pytest -q tests/browser/test_screenshot.py

DATASET ?= data/stanford-dogs
COMPOSE_FILES ?=
compose-smoke: $(VENV)/.runtime ## the production path on the Docker engine DOCKER_HOST names (DATASET=dir holding Images/)
	$(BIN)/python -m scripts.stack.compose_smoke --dataset $(DATASET) $(COMPOSE_FILES)
