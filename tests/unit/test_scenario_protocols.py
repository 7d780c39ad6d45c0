"""The scenario syntax of the real protocols: `dex:` on a pool, `vault: {kind: ...}`, and
the one-line errors that keep a scenario to what the harness and the runner carry out."""

from __future__ import annotations

import pytest

from harness.chains import world_spec
from harness.errors import ScenarioError
from harness.scenario import parse_scenario_text
from runner.universe import Dex, VaultKind

FILE = "scenarios/x.yaml"

# Line numbers matter: the pools are lines 7 and 8, the vault line 10.
BASE = """\
name: base
description: two pools on the real protocols
clock: {start: 2024-01-01T00:00:00Z, cycle: 1d, until: 10d}
universe:
  reserve: USDC
  tokens: {USDC: {decimals: 6}, WETH: {}, WBTC: {decimals: 8}}
  pools:
    - {pair: WETH/USDC, dex: uniswap-v3, fee: 0.05%, price: 2000, depth: 2_000_000}
    - {pair: WBTC/USDC, dex: uniswap-v2, price: 40000, depth: 2_000_000}
strategy: {module: runner.strategies.rebalance}
vault: {kind: erc4626}
"""


def single(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario_text(text, FILE)
    return str(info.value)


def test_base_parses_with_dex_and_vault() -> None:
    """Each pool keeps its dex and fee; the world to deploy is the protocols' one."""
    s = parse_scenario_text(BASE, FILE)
    assert [p.dex for p in s.universe.pools] == [Dex.uniswap_v3, Dex.uniswap_v2]
    assert s.vault.kind == VaultKind.erc4626
    spec = world_spec(s)
    assert spec.on_protocols and [p.dex for p in spec.pools] == [Dex.uniswap_v3, Dex.uniswap_v2]


def test_defaults_are_the_fixtures() -> None:
    """Without dex and vault: the fixture AMM and the legacy vault (every older scenario)."""
    text = BASE.replace("dex: uniswap-v3, fee: 0.05%, ", "").replace("dex: uniswap-v2, ", "").replace(
        "vault: {kind: erc4626}\n", "")
    s = parse_scenario_text(text, FILE)
    assert [p.dex for p in s.universe.pools] == [Dex.fixture, Dex.fixture]
    assert s.vault.kind == VaultKind.legacy and not world_spec(s).on_protocols


def test_v3_fee_is_a_tier() -> None:
    assert single(BASE.replace("fee: 0.05%", "fee: 0.02%")) == (
        f"{FILE}:8: universe.pools[0].fee: expected a Uniswap v3 fee tier (0.01%, 0.05%, 0.3%, 1%), found 0.02%")


def test_v2_has_one_fee() -> None:
    assert single(BASE.replace("dex: uniswap-v2, ", "dex: uniswap-v2, fee: 0.05%, ")) == (
        f"{FILE}:9: universe.pools[1].fee: expected 0.3% (Uniswap v2 has one fee), found 0.05%")


def test_unknown_dex_is_refused_with_the_words() -> None:
    assert single(BASE.replace("uniswap-v2", "uniswap-v4")) == (
        f"{FILE}:9: universe.pools[1].dex: expected one of 'fixture', 'uniswap-v2', 'uniswap-v3', "
        "found 'uniswap-v4' (did you mean 'uniswap-v3'?)")


def test_real_pools_need_a_real_vault() -> None:
    assert single(BASE.replace("vault: {kind: erc4626}", "vault: {kind: legacy}")) == (
        f"{FILE}:11: vault.kind: expected erc4626 (pools[0] is on uniswap-v3, which the legacy vault cannot "
        "trade), found legacy")


def test_async_vault_is_a_protocol_world() -> None:
    """The ERC-7540 vault is offered: deployed with the real DEXes, as erc4626 is."""
    s = parse_scenario_text(BASE.replace("kind: erc4626", "kind: async"), FILE)
    assert s.vault.kind == VaultKind.async_ and world_spec(s).on_protocols and world_spec(s).vault == VaultKind.async_


def test_an_unknown_vault_kind_lists_the_three() -> None:
    assert single(BASE.replace("kind: erc4626", "kind: erc7540")) == (
        f"{FILE}:11: vault.kind: expected one of 'legacy', 'erc4626', 'async', found 'erc7540'")


def test_a_route_stays_on_one_exchange() -> None:
    """WBTC reached through WETH: one vault swap cannot cross from v2 to v3."""
    text = BASE.replace("pair: WBTC/USDC", "pair: WBTC/WETH").replace("price: 40000", "price: 20")
    assert single(text) == (
        f"{FILE}:6: universe.tokens.WBTC: expected a route to the reserve on one exchange, found a route "
        "through uniswap-v3 then uniswap-v2")


def test_v3_pools_refuse_tokens_that_arrive_short() -> None:
    """A v3 pool checks its balance after the swap callback: a fee-on-transfer (or a
    rebasing token's share rounding) pays less than the amount, and the swap reverts."""
    text = BASE.replace("WETH: {}", "WETH: {transfer_fee: 1%}")
    assert single(text) == (
        f"{FILE}:8: universe.pools[0].dex: expected fixture or uniswap-v2 for a fee-on-transfer token like WETH "
        "(a v3 pool refuses a payment short of the amount swapped), found uniswap-v3")
