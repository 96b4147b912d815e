# The README's two commands: `make run` and `make test`. Both set up everything from scratch.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP   = $(VENV)/.installed

.PHONY: run test test-fast typecheck lint venv build validate bench clean browser-deps server-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

validate: $(STAMP)
	$(BIN)/kgpub validate

build: $(STAMP)
	$(BIN)/kgpub build

run: $(STAMP)
	$(BIN)/kgpub validate
	$(BIN)/kgpub build
	$(BIN)/kgpub serve --site site --host $(HOST) --port $(PORT)

# The browser tests (tests/browser) need Debian's chromium (installed with apt-get when root) and
# axe-core from npm (into .cache/); never fails: what is missing makes those tests skip, saying why.
browser-deps:
	@sh tests/browser/install_deps.sh

# The deployment tests run Debian's nginx and apache2 (installed with apt-get when root, by
# tests/install_servers.sh); never fails: what is missing makes those tests skip, saying why.
server-deps:
	@sh tests/install_servers.sh

# Tests that measure no time run two at a time (one file per process, the longest files first:
# FIRST in tests/conftest.py); the few that do run alone afterwards (marker `serial`), collected
# from the modules that hold them only (tests/serial_files.py reads SERIAL in tests/conftest.py).
test: $(STAMP) browser-deps server-deps
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not serial"
	$(BIN)/python -m pytest -m serial $$($(BIN)/python tests/serial_files.py)

# The inner loop (about a minute on two cores): ruff, then the tests marked neither slow, server, browser
# nor serial (markers: pyproject.toml; where they apply: tests/conftest.py).
test-fast: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder \
	  -m "not slow and not server and not browser and not serial"

# mypy ([tool.mypy] in pyproject.toml): strict on the newer modules, the default checks on those
# of the others that pass today. Not yet part of `make test`: the strict modules have errors.
typecheck: $(STAMP)
	$(BIN)/mypy

# Benchmarks at 1k, 10k and 100k entries -> bench/RESULTS.md (see bench/run.py; e.g.
# make bench BENCH_ARGS="--sizes 1000,10000 --runs 3"). Installs wrk (run.py) and Debian's hugo
# (here: the Hugo comparison) with apt-get if missing, unless --no-install; never fails for it.
BENCH_ARGS ?=
bench: $(STAMP)
	@command -v hugo >/dev/null || case "$(BENCH_ARGS)" in *--no-install*) ;; *) \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends hugo; } \
	  || echo "hugo could not be installed: the Hugo comparison will be skipped";; esac
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) site .site.building-* .pytest_cache .mypy_cache .cache tests/artifacts
