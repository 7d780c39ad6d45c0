"""What events change in the live run survives the runner's restarts."""

from __future__ import annotations

from decimal import Decimal

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.scenario import parse_scenario_text
from runner.state import open_store

SCENARIO = """\
name: parameter-survives-restarts
description: Weights change, then the runner dies twice; the new weights hold throughout.
clock: {start: 2024-01-01T00:00:00Z, cycle: 1d, until: 4d}
universe:
  reserve: USDC
  tokens: {USDC: {decimals: 6}, WETH: {decimals: 18}, stETH: {decimals: 18, rebasing: true}}
  pools:
    - {pair: WETH/USDC, price: 2000, depth: 2_000_000}
    - {pair: stETH/USDC, price: 2000, depth: 1_000_000}
strategy: {module: runner.strategies.rebalance, parameters: {weights: {WETH: 0.5, stETH: 0.5}}}
timeline:
  - {at: 0s, deposit: {amount: 10_000}}
  - {at: 1d, crash: sync_portfolio}
  - {at: 1d12h, set_parameter: {name: weights, value: {WETH: 0.9, stETH: 0.1}}}
  - {at: 2d, crash: check_accounts}
  - {at: 3d, crash: on_clock}
"""


class TestLiveRun:
    def test_set_parameter_after_a_crash_survives_the_next_restarts(self, chain_pool: ChainPool, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """A parameter set between two crashes is in force after both restarts, and on disk."""
        scenario = parse_scenario_text(SCENARIO, "params.yaml")
        result = ScenarioRun(scenario, backend="eth-tester", pool=chain_pool, state_dir=tmp_path).run()
        assert result.crashes == 3 and result.error is None
        p = result.state.portfolio
        values = {pos.asset: p.position_value(pos) for pos in p.open_positions.values()}
        weth_share = values["WETH"] / (values["WETH"] + values["stETH"])
        assert weth_share > Decimal("0.85"), values  # 0.5 if the change was lost at a restart
        stored = open_store(tmp_path / "state.json").load()
        weights = {k: Decimal(str(v)) for k, v in stored.parameters["overrides"]["weights"].items()}
        assert weights == {"WETH": Decimal("0.9"), "stETH": Decimal("0.1")}
