# Every command a developer, an operator or CI needs; `make` alone lists them.
# Tools run from .venv/bin, so nothing has to be activated first.

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
LOCAL := DJANGO_SETTINGS_MODULE=config.settings.local

.DEFAULT_GOAL := help
.PHONY: help install run test lint format migrate worker beat bench browsers

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

install: ## Create .venv with the locked dependencies (installs uv first if it is missing)
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --user uv==$(UV_VERSION)
	$(PYTHON) -m uv sync --frozen

run: install ## Start the embedded platform (PostgreSQL under var/, web + worker + beat) on http://127.0.0.1:8000
	exec env $(LOCAL) $(BIN)/python manage.py platform_run

# Parallel test processes (pytest-xdist); each has its own test database and Redis database.
TEST_WORKERS ?= 2

test: install ## Run the test suite in TEST_WORKERS processes (PostgreSQL and Redis from DATABASE_URL / REDIS_URL)
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: ## ruff lint, ruff format check, mypy and the import layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

format: ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: ## Apply migrations as the owner role DATABASE_URL names (`make run` migrates its embedded database itself)
	@test -n "$$DATABASE_URL" || { echo "Set DATABASE_URL to the owner role's URL; make run migrates the embedded database itself." >&2; exit 2; }
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/python manage.py migrate

worker: ## Run a Celery worker on its own (for production-like setups)
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config worker --loglevel=INFO

beat: ## Run Celery beat on its own (exactly one per deployment)
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config beat --loglevel=INFO

bench: ## Run the benchmarks and print their table (when bench/ exists)
	@if [ -d bench ]; then $(BIN)/python -m bench; else echo "No bench/ directory yet."; fi

.PHONY: bench-routing
bench-routing: ## Routing under load: 50 annotators doing next → submit over HTTP (gunicorn), 10k and 1M tasks
	$(BIN)/python -m bench.routing --tasks 10000 --tasks 1000000 --seconds 60 --annotators 50

.PHONY: bench-imports
bench-imports: ## Import 100k and 1M JSONL tasks through the API + a worker, against COPY of the same rows
	$(BIN)/python -m bench.imports --tasks 100000 --tasks 1000000 --formats jsonl

.PHONY: bench-browser
bench-browser: ## The data browser's views (filters, deep pages, search, one task) at 1M tasks, served whole
	$(BIN)/python -m bench.task_browser --tasks 1000000 --repeat 5

.PHONY: bench-exports
bench-exports: ## Exports against COPY of the same rows: JSONL and CSV of 100k and 1M annotations in the same tables
	$(BIN)/python -m bench.exports --rows 100000 --rows 1000000 --repeat 3

.PHONY: bench-streams
bench-streams: ## 50 model streams through the platform (uvicorn) beside API reads: read latency and time to first token
	$(BIN)/python -m bench.model_streams --streams 50 --token-delay-ms 50 --first-token-ms 200

# The suite's fuzz test (tests/test_api_fuzz.py) at length: FUZZ_SECONDS of schemathesis against a live server, up to
# FUZZ_MAX_EXAMPLES cases per operation and phase, a new seed each run unless FUZZ_SEED names one to replay.
FUZZ_SECONDS ?= 900
FUZZ_MAX_EXAMPLES ?= 100
FUZZ_SEED ?=

.PHONY: fuzz
fuzz: install ## Fuzz the live API against its OpenAPI schema (FUZZ_SECONDS, default 900); any 5xx or off-schema answer fails
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/pytest tests/test_api_fuzz.py -p no:cacheprovider -s -q

browsers: ## Install headless Chromium for the browser tests (apt) if /usr/bin/chromium is missing
	@test -x /usr/bin/chromium || { apt-get update -q && apt-get install -y -q chromium; }
