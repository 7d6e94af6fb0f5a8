# driftgate — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
DASHBOARD_PORT ?= 8501
FUZZ_EXAMPLES ?= 200
TEST_WORKERS ?= auto

.PHONY: run test test-fast fuzz install install-dev lint typecheck bench bench-checks bench-api bench-lineage bench-rank bench-drift bench-detection bench-audit bench-simulations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing driftgate and its dependencies (the first time takes a few minutes) ..."
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Install, migrate, seed the demo, then serve the API and the dashboard together (Ctrl-C stops
## both; embedded PostgreSQL unless DATABASE_URL is set).
run: install
	$(BIN)/driftgate migrate
	$(BIN)/driftgate demo
	$(BIN)/driftgate run --demo --host $(HOST) --port $(PORT) --dashboard-port $(DASHBOARD_PORT)

## Install and run the test suite against a real PostgreSQL, in parallel (pytest-xdist: one
## database per worker; TEST_WORKERS=0 runs it in this process). Ends with its wall time.
test: install-dev
	$(BIN)/pytest -q -n $(TEST_WORKERS)

## The edit loop: everything but the tests marked slow (training, real servers, long properties).
test-fast: install-dev
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m "not slow"

## schemathesis over the whole OpenAPI document, many more examples per operation than the
## suite's bounded run (FUZZ_EXAMPLES=5): no 5xx, no undocumented status or content type.
fuzz: install-dev
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:cacheprovider tests/api/test_schemathesis.py

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

bench: bench-checks bench-api bench-lineage bench-rank bench-drift bench-detection bench-audit bench-simulations

bench-checks: install-dev
	$(BIN)/python bench/bench_checks.py --rows 100000 1000000

bench-api: install-dev
	$(BIN)/python bench/bench_api.py --rows 1000000

bench-lineage: install-dev
	$(BIN)/python bench/bench_lineage.py

bench-rank: install-dev
	$(BIN)/python bench/bench_rank.py

bench-drift: install-dev
	$(BIN)/python bench/bench_drift.py --rows 100000 1000000

bench-detection: install-dev
	$(BIN)/python bench/bench_detection.py

bench-audit: install-dev
	$(BIN)/python bench/bench_audit.py --events 1000000

bench-simulations: install-dev
	$(BIN)/python bench/bench_simulations.py --seeds 5

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
