# Two commands on a fresh machine: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
WORKERS ?= 2
DEFAULT_SCENARIO ?= scenarios/main-rebalance-30d.yaml

.PHONY: install run test test-ci test-fast lint contracts snapshots bench clean

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(PY_STAMP) $(NODE_STAMP)

## the main job: the default scenario on the embedded chain
run: $(PY_STAMP)
	$(VENV)/bin/harness run $(DEFAULT_SCENARIO)

## the whole suite: unit tests, integration tests on both backends, every scenario on both
test: install
	$(PY) -m pytest -n $(WORKERS) -p no:randomly

## the same with JUnit XML for CI systems
test-ci: install
	$(PY) -m pytest -n $(WORKERS) --junitxml=build/junit.xml

## no node needed: unit tests only
test-fast: $(PY_STAMP)
	$(PY) -m pytest tests/unit -q

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check runner harness tests bench
	$(VENV)/bin/mypy runner harness

## rebuild fixtures/artifacts from fixtures/contracts with solcjs (offline)
contracts: $(NODE_STAMP)
	node fixtures/build.mjs

## regenerate scenario snapshots on the embedded chain and remove orphans; review the diff!
snapshots: install
	$(PY) -m harness.snapshot_prune
	$(PY) -m pytest scenarios -p no:xdist --backend eth-tester --snapshot-update -q

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules build .pytest_cache
