"""Adoption without a node: the runner's impersonated account (no key, a hash known before
the send, checked after; on the in-process revm chain, which impersonates as anvil does)
and the `universe.adopt` format's refusals.
"""

from __future__ import annotations

import pytest

from harness.errors import ScenarioError, ScenarioErrors
from harness.scenario import parse_scenario_text
from runner.chain.client import ChainClient
from runner.chain.errors import ChainError
from runner.chain.revm import RevmBackend
from runner.chain.wallet import ImpersonatedWallet, Wallet, impersonated_tx_hash

GENESIS = 1_577_836_800
NOBODY = bytes.fromhex("000000000000000000000000000000000000dead")


def _chain() -> ChainClient:
    admin = Wallet.from_label("admin")
    backend = RevmBackend(GENESIS, [admin.address], 10**24)
    return ChainClient(backend, clock=GENESIS + 10)


def test_the_hash_written_down_is_the_one_the_node_gives() -> None:
    """Signed-for ahead (the write-ahead save holds it), sent by impersonation, mined under that hash."""
    chain = _chain()
    manager = ImpersonatedWallet("manager", bytes.fromhex("1a3668e889d0eb9ccbe21740a114d9b7bb63bdf4"))
    tx = chain.sign(manager, NOBODY, b"\x01\x02", 50_000)
    assert tx.impersonated and tx.raw == b"" and manager.nonce == 1
    assert tx.tx_hash == impersonated_tx_hash(manager.address, 0, 10 * 10**9, 50_000, NOBODY, b"\x01\x02", chain.chain_id)
    assert chain.broadcast(tx) == tx.tx_hash
    receipt = chain.wait(tx.tx_hash)
    assert receipt is not None and receipt.success


def test_a_nonce_the_node_does_not_use_is_caught_at_the_send() -> None:
    """The planted bug: the runner's nonce is stale (not synced from the node). The node sends
    at its own nonce, under another hash than the one the state holds: refused, loudly."""
    chain = _chain()
    manager = ImpersonatedWallet("manager", bytes.fromhex("1a3668e889d0eb9ccbe21740a114d9b7bb63bdf4"))
    manager.nonce = 7
    tx = chain.sign(manager, NOBODY, b"", 50_000)
    with pytest.raises(ChainError, match=r"at nonce 7 came back as 0x[0-9a-f]{64}, not 0x[0-9a-f]{64}: the node's "
                       r"nonce moved"):
        chain.broadcast(tx)


def test_no_contract_creation_or_value_by_impersonation() -> None:
    from runner.errors import CannotImpersonate

    chain = _chain()
    manager = ImpersonatedWallet("manager", NOBODY)
    with pytest.raises(CannotImpersonate, match="a plain call"):
        chain.sign(manager, None, b"\x60", 100_000)
    assert manager.nonce == 0


ADOPTED = """\
name: adopted
description: x
clock: {start: 2024-01-01T00:00:00Z, cycle: 1d, until: 1d}
chain: {backend: anvil}
universe:
  reserve: USDC
  tokens: {USDC: {decimals: 6, address: 0x1576b373f87ca3ac6d9bc545401f17c5a3832631},
           WETH: {address: 0xcb459a9e7a4dab22b0c9cf689bc6228e61e051c8}}
  pools:
    - {pair: WETH/USDC, dex: uniswap-v2, address: 0x22e8fa41317c855a3a4e4e4c5d6d959b47477314}
  adopt:
    vault: 0xb6e855d930a53bf4c7fa29a07165ffe47958160c
    uniswap_v2: {factory: 0x503c378756cdd7016fb06e833feb87a56cac4da0, router: 0x6c6600b82d71c1ee8be86cf18878a29ede970254}
vault: {kind: erc4626}
strategy: {module: runner.strategies.rebalance}
"""


def test_an_adopted_universe_decodes_with_lowercase_addresses() -> None:
    scenario = parse_scenario_text(ADOPTED)
    adopt = scenario.universe.adopt
    assert adopt is not None and adopt.asset_manager is None  # read from the vault at run time
    assert adopt.multicall == "0xcA11bde05779D4C0C3B8C6D32e9A9bbAe18Ae9A7"  # Multicall3, by default
    assert scenario.universe.pools[0].price is None


@pytest.mark.parametrize("old,new,message", [
    ("dex: uniswap-v2, address", "dex: fixture, address",
     r"universe\.pools\[0\]\.dex: expected uniswap-v2 or uniswap-v3 for an adopted pool, found fixture"),
    ("  reserve: USDC\n", "  reserve: USDC\n  asset_manager_key: someone\n",
     r"universe\.asset_manager_key: expected no asset_manager_key with universe\.adopt"),
    ("WETH: {address: 0xcb459a9e7a4dab22b0c9cf689bc6228e61e051c8}", "WETH: {}",
     r"universe\.tokens\.WETH: expected an address \(universe\.adopt: every token is an existing contract\)"),
    ("dex: uniswap-v2, address", "dex: uniswap-v2, depth: 5, address",
     r"universe\.pools\[0\]\.depth: expected no depth on an adopted pool"),
])
def test_what_an_adopted_universe_refuses(old: str, new: str, message: str) -> None:
    assert ADOPTED.count(old) == 1
    with pytest.raises(ScenarioError, match=message):
        parse_scenario_text(ADOPTED.replace(old, new))


def test_a_deployed_pool_still_needs_price_and_depth() -> None:
    text = ADOPTED.replace("  adopt:\n", "  adopt_removed:\n")
    base = text.split("  adopt_removed:")[0].replace(", address: 0x1576b373f87ca3ac6d9bc545401f17c5a3832631", "")
    base = base.replace("{address: 0xcb459a9e7a4dab22b0c9cf689bc6228e61e051c8}", "{}")
    base = base.replace(", address: 0x22e8fa41317c855a3a4e4e4c5d6d959b47477314", "") + "vault: {kind: erc4626}\n"
    base += "strategy: {module: runner.strategies.rebalance}\n"
    with pytest.raises(ScenarioErrors, match=r"universe\.pools\[0\]\.price: expected a price \(required for a pool "
                       r"the harness deploys"):
        parse_scenario_text(base)


@pytest.mark.parametrize("old,new,message", [
    ("vault: {kind: erc4626}\n", "vault: {kind: legacy}\n",
     r"vault\.kind: expected erc4626 \(an adopted vault is an ERC-4626 strategy vault\), found legacy"),
    ("chain: {backend: anvil}\n", "chain: {backend: eth-tester}\n",
     r"universe\.adopt: expected a chain that holds the contracts: backend anvil-fork .*found backend eth-tester"),
])
def test_an_adopted_universe_needs_its_vault_kind_and_a_chain_that_has_it(old: str, new: str, message: str) -> None:
    with pytest.raises((ScenarioError, ScenarioErrors), match=message):
        parse_scenario_text(ADOPTED.replace(old, new, 1))
