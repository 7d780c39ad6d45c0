"""Scenarios on the real protocols, beyond their snapshots: the universe a tool derives
from the scenario file is the one the run used, and the runner sends a real vault
nothing but its swaps (no NAV posts: the vault computes its own)."""

from __future__ import annotations

from pathlib import Path

from harness.engine import ScenarioRun
from harness.repair_cli import derive_universe
from harness.scenario import load_scenario
from runner.chain.wallet import Wallet
from runner.state.state import UniverseIdentity
from runner.universe import Dex, VaultKind

ROOT = Path(__file__).resolve().parents[2]
BOTH = ROOT / "scenarios" / "protocols" / "uniswap-v2-and-v3-rebalance.yaml"


def test_derived_universe_is_the_runs_and_knows_each_dex() -> None:
    """`harness repair` and `harness report --rpc` rebuild the universe from the file:
    a protocol world's addresses, dexes and vault kind come out as the run had them."""
    scenario = load_scenario(BOTH)
    derived = derive_universe(scenario)
    result = ScenarioRun(scenario, backend="revm").run()
    assert result.state.universe is not None
    assert result.state.universe.differences(UniverseIdentity.of(derived)) == []
    assert derived.vault_kind == VaultKind.erc4626
    assert {k: p.dex for k, p in derived.pools.items()} == {
        "WETH/USDC": Dex.uniswap_v3, "WBTC/USDC": Dex.uniswap_v2, "LINK/USDC": Dex.uniswap_v3}
    assert set(derived.routers) == {Dex.uniswap_v2, Dex.uniswap_v3} and derived.v3_quoter


def test_the_runner_sends_a_real_vault_only_its_swaps() -> None:
    """Every transaction of the asset manager is a trade's swap (its nonce counts them):
    no postNav, which a real vault does not have."""
    scenario = load_scenario(BOTH)
    result = ScenarioRun(scenario, backend="revm").run()
    txs = [tx for t in result.state.portfolio.all_trades() for tx in t.blockchain_transactions]
    assert txs and {tx.function for tx in txs} == {"swapV2", "swapV3"}
    manager = Wallet.from_label("asset-manager")
    # The nonces of the swaps leave no gap: nothing else was sent from the key.
    assert sorted(tx.nonce for tx in txs) == list(range(len(txs)))
    assert manager.checksum_address == txs[0].from_address
