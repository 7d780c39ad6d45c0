"""Which backends a scenario file becomes pytest items on: those that can run every event."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.pytest_plugin import backends_for
from harness.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("path", "choice", "expected"), [
    # portable, fixture events only: every backend
    ("scenarios/regressions/invariant-state-round-trip-s11-r12.yaml", "all", ["eth-tester", "anvil", "revm"]),
    # written by `harness fuzz` on revm, with a node restart eth-tester cannot do
    ("scenarios/regressions/crash-nodeerror-s11-r26.yaml", "all", ["anvil", "revm"]),
    ("scenarios/regressions/crash-nodeerror-s11-r26.yaml", "both", ["anvil"]),
    ("scenarios/regressions/crash-nodeerror-s11-r26.yaml", "eth-tester", []),
    # declared for anvil (a process, a node): anvil only
    ("scenarios/node/node-restart-keeps-chain.yaml", "all", ["anvil"]),
    ("scenarios/node/node-restart-keeps-chain.yaml", "revm", []),
])
def test_items_only_where_every_event_can_run(path: str, choice: str, expected: list[str]) -> None:
    assert backends_for(load_scenario(REPO / path), choice) == expected
