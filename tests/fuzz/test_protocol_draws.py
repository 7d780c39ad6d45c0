"""Generated runs on the real protocols: an ERC-4626 vault trading Uniswap v2 and v3 pools,
drawn from a seed, executed on a real chain, replayed byte for byte."""

from __future__ import annotations

from datetime import timedelta

from harness.fuzz.campaign import plan
from harness.fuzz.execute import Job, close_worker, execute
from harness.fuzz.generate import LEGACY_FAIR_SHARES, FuzzConfig
from harness.scenario import parse_scenario_text

CONFIG = FuzzConfig(backend="revm", until=timedelta(days=3))
CONFIG_10D = FuzzConfig(backend="revm")  # the default campaign's runs
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


def test_legacy_vault_runs_skip_fair_shares_for_its_known_flaw() -> None:
    """Run 17 of seed 2026 draws the legacy vault and moves 8.49 DAI at a stale posted NAV:
    the contract's documented flaw, so the document skips fair-shares (with the reason),
    the run does not fail on it, and an ERC-4626 run keeps the invariant."""
    legacy, erc4626 = plan(2026, 17, CONFIG_10D, ()), plan(SEED, RUN, CONFIG, ())
    skipped = parse_scenario_text(legacy.text, "<legacy>").invariants.skip
    assert [(str(s.name), s.reason) for s in skipped] == [("fair-shares", LEGACY_FAIR_SHARES)]
    assert str(parse_scenario_text(legacy.text, "<legacy>").vault.kind) == "legacy"
    assert parse_scenario_text(erc4626.text, "<erc4626>").invariants.skip == ()
    try:
        close_worker()
        verdict = execute(Job(17, legacy.seed, legacy.text, "revm"))
    finally:
        close_worker()
    assert "fair-shares" not in verdict.violations, verdict.detail


def test_shrinking_to_the_legacy_vault_skips_fair_shares_too() -> None:
    """The shrinker's `vault -> legacy` candidate carries the skip: a fair-shares failure on
    an ERC-4626 run cannot shrink onto the legacy vault's known flaw. (A stand-in test
    that 'fails' on any legacy-vault document, so the shrink takes that step.)"""
    from harness.fuzz.shrink import Shrinker

    def fails(text: str) -> bool:
        return str(parse_scenario_text(text, "<candidate>").vault.kind) == "legacy"

    shrunk = Shrinker(plan(SEED, RUN, CONFIG, ()).doc, fails, max_attempts=400).run()
    assert "vault -> legacy" in shrunk.log
    assert "vault" not in shrunk.doc
    assert shrunk.doc["invariants"] == {"skip": [{"name": "fair-shares", "reason": LEGACY_FAIR_SHARES}]}
