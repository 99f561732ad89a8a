# The README's two commands: `make demo` and `make test`. Both do all set-up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODE ?= api

RUNTIME_VENV := .venv-runtime
RUNTIME_STAMP := $(RUNTIME_VENV)/.installed

.PHONY: setup demo test lint runtime-check run bench clean

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

# The deployed package gets requirements.txt only: the app must import with nothing else.
$(RUNTIME_STAMP): requirements.txt
	$(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $(RUNTIME_STAMP)

runtime-check: $(RUNTIME_STAMP)
	$(RUNTIME_VENV)/bin/python -c "import function_app; assert function_app.app.get_functions()"

test: lint runtime-check
	bash infra/scripts/checkov.sh
	# Three workers, a test file each: most end-to-end time is spent waiting on emulated Azure and EMQX.
	$(VENV)/bin/pytest -n 3 --dist loadfile

run: setup
	$(PY) -m localcloud up

demo: setup
	$(PY) -m localcloud demo --mode $(MODE)

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(RUNTIME_VENV) node_modules .localcloud .pytest_cache .mypy_cache .ruff_cache
