"""The benchmark suite: `make bench` (or `.venv/bin/python -m bench`).

Measures, in one run, what a simulated trading cycle costs on eth-tester and anvil, the
raw JSON-RPC floor of the same node work on the same anvil, world set-up, the test
suite's wall time, anvil start-up, memory over a 10-year run, and import times.
Results go to bench/results/latest.json and latest.md. Nothing here asserts on time.
"""
