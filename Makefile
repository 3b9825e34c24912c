# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(PY) -m flask --app app
# Where `make demo` listens: `make demo PORT=8080` (or HOST=0.0.0.0 for other machines).
HOST ?= 127.0.0.1
PORT ?= 5000
# Test processes (pytest-xdist): every process has its own databases, queue prefixes and browser.
TEST_WORKERS ?= 2

.PHONY: demo test setup chromium bench lint

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

## Set up, migrate, load demo data, and run web + worker on http://$(HOST):$(PORT) (Ctrl-C stops)
demo: setup
	$(FLASK) db-upgrade
	$(FLASK) seed-demo
	$(FLASK) serve --host $(HOST) --port $(PORT)

## Debian's chromium for the browser tests (never a downloaded browser)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y chromium || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium; }; }

## Set up and run the whole test suite (SQLite + PostgreSQL if reachable, real Redis, real Chromium)
test: setup chromium
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS)

## Every benchmark of bench/ (about 25 minutes with the 10-minute soak; figures in bench/results/ and the README)
bench: setup
	$(PY) bench/lead_list.py
	$(PY) bench/dashboards_marketing.py
	$(PY) bench/what_if.py
	$(PY) bench/scoring_engine.py
	$(PY) bench/scoring_pipeline.py
	$(PY) bench/router.py
	$(PY) bench/routing.py
	$(PY) bench/csv_parse.py
	$(PY) bench/import_csv.py
	$(PY) bench/capture.py
	$(PY) bench/soak.py
