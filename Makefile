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
STRACE := /usr/bin/strace
DEFAULT_SCENARIO ?= scenarios/main-rebalance-30d.yaml

UV_VERSION := 0.13.8

.PHONY: install run test test-ci test-fast lint contracts snapshots bench clean chromium lock wheel hostile strace fuzz mutants crash-campaign

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
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --extra cluster --universal --python-version 3.11 \
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

## 50 seeded SIGKILLs of the runner process across the 30-day scenario (anvil, minutes; not
## in `make test`): every restart ends in the uninterrupted run's portfolio and trades
crash-campaign: install
	$(PY) -m harness.crash_campaign --kills 50 --backend anvil

bench: install
	$(PY) -m bench

## the hostile storage campaign (minutes; not in `make test`): kills, corruption, two writers,
## full disks; prints tried / clear error / traceback / hang / data lost / wrong result
hostile: install $(STRACE)
	$(PY) -m tests.hostile.campaign

## Debian's strace injects SIGKILL at the Nth syscall for the campaign (root: apt-get);
## without it the campaign kills through the store's own seam instead
strace: $(STRACE)

$(STRACE):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; \
	else echo "strace missing: 'sudo apt-get install strace' (the campaign falls back to the store's seam)"; fi

## a longer fuzz campaign with the default weights (README: "Fuzzing"); FUZZ_SEED=... FUZZ_RUNS=...
FUZZ_SEED ?= 1
FUZZ_RUNS ?= 200
fuzz: install
	$(VENV)/bin/harness fuzz --seed $(FUZZ_SEED) --runs $(FUZZ_RUNS) --workers $(WORKERS) --backend revm \
		--coverage --corpus build/fuzz/corpus --time-budget 10m --shrink-attempts 120 --json build/fuzz/summary.json

## the planted-bug catalogue (tests/mutants/): each bug on a scratch copy, its scenarios on revm;
## the table goes to stdout and build/mutants.md (+ .json). MUTANTS="--only ID" runs one.
mutants: install
	$(PY) -m tests.mutants.run $(MUTANTS)

clean:
	rm -rf $(VENV) node_modules build dist .pytest_cache
