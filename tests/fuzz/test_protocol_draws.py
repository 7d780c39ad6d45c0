"""Generated runs on the real protocols: an ERC-4626 vault trading Uniswap v2 and v3 pools,
drawn from a seed, executed on a real chain, replayed byte for byte."""

from __future__ import annotations

from datetime import timedelta

from harness.fuzz.campaign import plan
from harness.fuzz.execute import Job, close_worker, execute
from harness.fuzz.generate import FuzzConfig
from harness.scenario import parse_scenario_text

CONFIG = FuzzConfig(backend="revm", until=timedelta(days=3))
SEED, RUN = 2026, 35  # erc4626; WETH/USDC-like routes on uniswap-v3 (0.05%) and uniswap-v2; a price shock


def test_a_drawn_v3_and_erc4626_run_replays_byte_identically() -> None:
    """The second execution reverts the protocol world to the snapshot the first deployed:
    a stale snapshot would show as a different verdict."""
    from harness.fuzz import execute as worker

    first, again = plan(SEED, RUN, CONFIG, ()), plan(SEED, RUN, CONFIG, ())
    assert first.text == again.text
    scenario = parse_scenario_text(first.text, "<protocols>")
    assert str(scenario.vault.kind) == "erc4626"
    dexes = {str(p.dex) for p in scenario.universe.pools}
    assert {"uniswap-v3", "uniswap-v2"} <= dexes
    assert any(e.kind == "price_shock" for e in scenario.timeline)
    try:
        close_worker()
        verdicts = [execute(Job(RUN, first.seed, first.text, "revm")) for _ in range(2)]
        assert worker._pool().deploys == 1  # deployed once, then reverted to
    finally:
        close_worker()
    assert verdicts[0].outcome() == verdicts[1].outcome()
    assert verdicts[0].invariant_checks > 10 and verdicts[0].signature is None, verdicts[0].detail
