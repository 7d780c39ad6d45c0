# Two commands on a fresh machine: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
WORKERS ?= 2
# Tests run in a shuffled order (pytest-randomly) to prove they are order-independent; the
# seed is fixed so CI is reproducible: `make test TEST_SEED=$$RANDOM` tries another order.
TEST_SEED ?= 20261125
CHROMIUM := /usr/bin/chromium
DEFAULT_SCENARIO ?= scenarios/main-rebalance-30d.yaml

UV_VERSION := 0.13.8

.PHONY: install run test test-ci test-fast lint contracts snapshots bench clean chromium lock wheel

## the exact versions of requirements.lock (hash-checked), then this project, editable
$(PY_STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(PY_STAMP) $(NODE_STAMP)

## the main job: the default scenario on the embedded chain
run: $(PY_STAMP)
	$(VENV)/bin/harness run $(DEFAULT_SCENARIO)

## the whole suite: unit tests, integration tests on both backends, every scenario on both
test: install $(CHROMIUM)
	$(PY) -m pytest -n $(WORKERS) -p randomly --randomly-seed=$(TEST_SEED)

## the same with JUnit XML for CI systems
test-ci: install $(CHROMIUM)
	$(PY) -m pytest -n $(WORKERS) -p randomly --randomly-seed=$(TEST_SEED) --junitxml=build/junit.xml

## Debian's chromium renders the auditor's report in the browser test (root: apt-get)
chromium: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing: run 'sudo apt-get install chromium' (the report browser test needs it)"; exit 1; fi

## no node needed: unit tests only
test-fast: $(PY_STAMP)
	$(PY) -m pytest tests/unit -q

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check runner harness tests bench examples
	$(VENV)/bin/mypy runner harness

## regenerate requirements.lock from pyproject.toml's ranges (uv keeps the pins it can;
## `make lock UPGRADE=--upgrade` moves every pin to the newest release in range)
lock: $(PY_STAMP)
	$(VENV)/bin/pip install --quiet uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command 'make lock' --quiet $(UPGRADE) -o requirements.lock

## the wheel other projects install: dist/dst_harness-<version>-py3-none-any.whl
wheel: $(PY_STAMP)
	rm -rf build/lib build/bdist.*
	$(VENV)/bin/pip wheel --quiet --no-deps --no-build-isolation -w dist .

## rebuild fixtures/artifacts from fixtures/contracts with solcjs (offline), then copy the
## published Uniswap builds from the pinned npm packages (fixtures/published.lock.json)
contracts: $(NODE_STAMP)
	node fixtures/build.mjs
	node fixtures/published.mjs

## regenerate scenario snapshots on the embedded chain and remove orphans; review the diff!
snapshots: install
	$(PY) -m harness.snapshot_prune
	$(PY) -m pytest scenarios -p no:xdist --dst-backend eth-tester --snapshot-update -q

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules build dist .pytest_cache
