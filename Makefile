# The README's two commands: `make demo` and `make test`. Both do all set-up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODE ?= api

RUNTIME_VENV := .venv-runtime
RUNTIME_STAMP := $(RUNTIME_VENV)/.installed

.PHONY: setup demo test lint runtime-check other-pythons other-python run bench clean

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

# Azure runs the app on Python 3.11, 3.12 or 3.13 (infra/main.bicep pythonVersion; requirements.txt pins
# azure-functions by environment marker). Under each of these other versions found on this machine (pythonX.Y on
# PATH, else pyenv's installed X.Y: a pyenv shim alone runs nothing), the runtime import check and the unit tests
# run again, in venvs of their own under .venv/ (kept out of git and of the deployed package with it); a version
# not found is skipped with a message, never installed.
OTHER_PYTHONS ?= 3.12 3.13

other-pythons: setup
	@for version in $(OTHER_PYTHONS); do \
	  python=$$(for candidate in python$$version "$$(pyenv root 2>/dev/null)"/versions/$$version.*/bin/python$$version; do \
	    "$$candidate" -c 'import sys; print(sys.executable)' 2>/dev/null && break; done); \
	  if [ -z "$$python" ]; then echo "Python $$version: not found on this machine: skipped"; continue; fi; \
	  echo "Python $$version: $$python"; \
	  $(MAKE) --no-print-directory other-python VERSION=$$version VERSION_PYTHON=$$python || exit 1; \
	done

$(VENV)/py%-runtime/.installed: requirements.txt | setup
	$(VERSION_PYTHON) -m venv $(VENV)/py$*-runtime
	$(VENV)/py$*-runtime/bin/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/py%-dev/.installed: requirements.txt requirements-dev.txt | setup
	$(VERSION_PYTHON) -m venv $(VENV)/py$*-dev
	$(VENV)/py$*-dev/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/py$*-dev/bin/python -m pip install --quiet -r requirements-dev.txt
	touch $@

other-python: $(VENV)/py$(VERSION)-runtime/.installed $(VENV)/py$(VERSION)-dev/.installed
	$(VENV)/py$(VERSION)-runtime/bin/python -c "import function_app; assert function_app.app.get_functions()"
	$(VENV)/py$(VERSION)-dev/bin/python -m pytest -q -p no:cacheprovider tests/unit

test: lint runtime-check other-pythons
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
