# The README's two commands: `make demo` and `make test`. Both do all set-up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODE ?= api

.PHONY: setup demo test lint run bench clean

$(STAMP): requirements.txt requirements-dev.txt package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	npm ci --no-audit --no-fund --loglevel=error
	@command -v redis-server >/dev/null || $(PY) -m localcloud install-redis
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest

run: setup
	$(PY) -m localcloud up

demo: setup
	$(PY) -m localcloud demo --mode $(MODE)

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .localcloud .pytest_cache .mypy_cache .ruff_cache
