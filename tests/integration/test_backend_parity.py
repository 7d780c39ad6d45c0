"""A user-written scenario gives byte-identical snapshots on every backend.

The bundled scenarios pin parity through their shared snapshots; these are the kinds of
scenario a user writes that broke it: value drained behind the runner's back (it was an
admin burn on eth-tester and an impersonated transfer on anvil, so every later admin
transaction had another nonce and hash) and a drain of a rebasing token in the block of
a rebase (share rounding then differed by a wei).
"""

from __future__ import annotations

import difflib

import pytest

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.scenario import parse_scenario_text
from harness.snapshot import render, snapshot_document

pytestmark = pytest.mark.anvil

WORLD = """\
name: {name}
description: Parity of a user-written scenario.
clock: {{start: 2024-01-01T00:00:00Z, cycle: 1d, until: 4d}}
universe:
  reserve: USDC
  tokens: {{USDC: {{decimals: 6}}, WETH: {{decimals: 18}}, stETH: {{decimals: 18, rebasing: true}}}}
  pools:
    - {{pair: WETH/USDC, price: 2000, depth: 2_000_000}}
    - {{pair: stETH/USDC, price: 2000, depth: 1_000_000}}
strategy: {{module: runner.strategies.rebalance, parameters: {{weights: {{WETH: 0.5, stETH: 0.5}}}}}}
accounting: {{checks: true, tolerance: 0.000001, on_mismatch: report}}
timeline:
  - {{at: 0s, deposit: {{amount: 10_000}}}}
{events}
"""

CASES = {
    "drain-then-admin-work": """\
  - {at: 1d6h, external_transfer: {token: WETH, amount: -0.2}}
  - {at: 2d6h, rebase: {token: stETH, change: +1%}}
  - {at: 2d12h, deposit: {amount: 1_000}}""",
    "rebasing-drain-with-a-rebase": """\
  - {at: 1d6h, external_transfer: {token: stETH, amount: -0.1}}
  - {at: 1d6h, rebase: {token: stETH, change: +1%}}
  - {at: 2d6h, external_transfer: {token: stETH, amount: 0.05}}
  - {at: 2d6h, rebase: {token: stETH, change: -2%}}""",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_snapshot_on_every_backend(name: str, chain_pool: ChainPool) -> None:
    """The rendered snapshot document is the same bytes on eth-tester and on anvil."""
    scenario = parse_scenario_text(WORLD.format(name=name, events=CASES[name]), f"{name}.yaml")
    docs = {b: render(snapshot_document(ScenarioRun(scenario, backend=b, pool=chain_pool).run()))
            for b in ("eth-tester", "anvil")}
    diff = list(difflib.unified_diff(docs["eth-tester"].decode().splitlines(), docs["anvil"].decode().splitlines(),
                                     "eth-tester", "anvil", lineterm="", n=0))
    assert diff == [], "\n".join(diff[:40])
