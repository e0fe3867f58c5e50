# comms_lab: `make run` starts everything, `make test` checks everything. Both set themselves up first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# First Python 3.12+ found: python3.13, python3.12 on PATH, then pyenv's 3.13.0 / 3.12.1.
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	  command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v $$p; exit; }; done; \
	  for v in 3.13.0 3.12.1; do p=$$(pyenv prefix $$v 2>/dev/null)/bin/python3; [ -x "$$p" ] && { echo $$p; exit; }; done)
TEST_ENV := REDIS_KEY_PREFIX=cltest DEBUG=1 LAB_MAX_CONCURRENT_RUNS=20 LAB_CAPACITY=100000 LAB_MAX_RUNS_PER_ADDRESS=1000
# pytest-xdist processes for `make test`, each with its own key prefix, test database, Celery worker and daphne
# (tests/support/xdist_worker.py). Most tests wait on real-time lab runs: on two cores 3 took 6 min, 2 took 8½.
TEST_WORKERS ?= 3

.PHONY: run test lint format e2e-deps bench clean help
help:
	@echo "make run    start the app (embedded Redis unless REDIS_URL is set) at http://127.0.0.1:$${PORT:-8000}"
	@echo "make test   ruff, mypy and the whole pytest suite (unit, integration, browser)"
	@echo "make bench  run the benchmarks in bench/ (by hand, not in CI)"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@if [ -z "$(PYTHON)" ]; then echo "comms_lab needs Python 3.12 or newer (Django 6). Install python3.12, or 'pyenv install 3.12', then retry." >&2; exit 1; fi
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

run: $(VENV)/.installed
	$(PY) -m comms_lab.stack run

# Debian's Chromium drives the browser tests; installed when missing and we are root (never `playwright install`).
e2e-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/dev/null; \
	  else echo "warning: /usr/bin/chromium is missing (apt-get install chromium); browser tests will fail" >&2; fi; fi

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy comms_lab lab lessons quizzes bench tests

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: $(VENV)/.installed e2e-deps lint
	$(TEST_ENV) $(PY) -m comms_lab.stack exec -- $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) -m comms_lab.stack exec -- $(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .staticfiles .test-db*.sqlite3*
