"""Every fault mode of the harness on the real DEXes, with their bytecode untouched.

The vault-level switch (the project's FaultSwitch, read by the vaults before a swap) and
the token-level switch (TestToken.setTransfersBlocked). A slippage or transfer failure
must surface with the DEX's own revert message; an out-of-gas must be a real one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from harness.protocols.chains import ProtocolChains
from harness.protocols.deploy import Deployer
from harness.protocols.faults import FAULT_MODES, arm_fault, block_transfers, disarm_fault
from runner.chain.backend import Receipt
from tests.integration.protocol_worlds import BACKENDS, Bench, make_bench

USDC = 10**6
ARMED_REASON = "harness: armed revert"


@pytest.fixture(params=BACKENDS)
def bench(request: pytest.FixtureRequest, protocol_chains: ProtocolChains) -> Bench:
    return make_bench(protocol_chains, str(request.param))


@dataclass(frozen=True)
class Venue:
    pool: str
    swap: Callable[[Bench, str, int], Receipt]  # (bench, vault kind, amount of USDC) -> receipt
    slippage: str
    transfer: str


def _v2(b: Bench, kind: str, amount: int) -> Receipt:
    assert b.world.v2 is not None
    return b.swap_v2(kind, b.world.v2.router, amount, 1, ["USDC", "WETH"])


def _v3(b: Bench, kind: str, amount: int) -> Receipt:
    return b.swap_v3(kind, ["USDC", "WETH"], [500], amount, 1)


def _fixture(b: Bench, kind: str, amount: int) -> Receipt:
    assert b.world.fixture is not None
    return b.swap_v2(kind, b.world.fixture.router, amount, 1, ["USDC", "WETH"])


VENUES = {
    "v2": Venue("WETH/USDC@v2", _v2, "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT", "TransferHelper: TRANSFER_FROM_FAILED"),
    "v3": Venue("WETH/USDC@v3-500", _v3, "Too little received", "STF"),
    "fixture": Venue("WETH/USDC@fixture-3000", _fixture, "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT",
                     "TransferHelper: TRANSFER_FROM_FAILED"),
}


def fund(b: Bench, kind: str) -> None:
    """The vault has free cash to trade (minted in; for the async vault, past settlement)."""
    b.fund_vault(kind, "USDC", 10_000 * USDC)


def expect_failure(b: Bench, venue: Venue, mode: str, receipt: Receipt) -> None:
    assert not receipt.success
    if mode == "revert":
        assert receipt.revert_reason == ARMED_REASON
    elif mode == "out_of_gas":
        assert receipt.out_of_gas and receipt.revert_reason is None
        assert receipt.gas_used == receipt.gas_limit
    elif mode == "slippage":
        assert b.reason(receipt) == venue.slippage
    else:
        assert b.reason(receipt) == venue.transfer


class TestVaultLevelFaults:
    @pytest.mark.parametrize("venue", sorted(VENUES))
    @pytest.mark.parametrize("mode", sorted(FAULT_MODES))
    def test_every_mode_on_every_dex(self, bench: Bench, venue: str, mode: str) -> None:
        v = VENUES[venue]
        fund(bench, "erc4626")
        vault = bench.vault("erc4626").address
        before = (bench.balance("USDC", vault), bench.balance("WETH", vault))
        arm_fault(bench.d, bench.world.fault_switch, bench.pool_address(v.pool), mode, ARMED_REASON)
        expect_failure(bench, v, mode, v.swap(bench, "erc4626", 1_000 * USDC))
        assert (bench.balance("USDC", vault), bench.balance("WETH", vault)) == before
        disarm_fault(bench.d, bench.world.fault_switch, bench.pool_address(v.pool))
        assert v.swap(bench, "erc4626", 1_000 * USDC).success

    @pytest.mark.parametrize("mode", ["slippage", "transfer_failure"])
    def test_the_async_vault_takes_the_same_faults(self, bench: Bench, mode: str) -> None:
        fund(bench, "async")
        arm_fault(bench.d, bench.world.fault_switch, None, mode)
        for venue in ("v2", "v3"):
            expect_failure(bench, VENUES[venue], mode, VENUES[venue].swap(bench, "async", 1_000 * USDC))

    def test_any_pool_fault_fails_every_dex(self, bench: Bench) -> None:
        fund(bench, "erc4626")
        arm_fault(bench.d, bench.world.fault_switch, None, "revert", ARMED_REASON)
        for v in VENUES.values():
            assert v.swap(bench, "erc4626", 100 * USDC).revert_reason == ARMED_REASON

    def test_a_pool_fault_leaves_the_other_pools_alone(self, bench: Bench) -> None:
        fund(bench, "erc4626")
        arm_fault(bench.d, bench.world.fault_switch, bench.pool_address("WETH/USDC@v2"), "revert", ARMED_REASON)
        assert VENUES["v2"].swap(bench, "erc4626", 100 * USDC).revert_reason == ARMED_REASON
        assert VENUES["v3"].swap(bench, "erc4626", 100 * USDC).success
        assert VENUES["fixture"].swap(bench, "erc4626", 100 * USDC).success

    def test_a_pool_fault_outranks_the_any_pool_fault(self, bench: Bench) -> None:
        fund(bench, "erc4626")
        arm_fault(bench.d, bench.world.fault_switch, None, "revert", ARMED_REASON)
        arm_fault(bench.d, bench.world.fault_switch, bench.pool_address("WETH/USDC@v3-500"), "slippage")
        assert bench.reason(VENUES["v3"].swap(bench, "erc4626", 100 * USDC)) == "Too little received"
        assert VENUES["v2"].swap(bench, "erc4626", 100 * USDC).revert_reason == ARMED_REASON


class TestTokenLevelTransferFailure:
    def test_a_blocked_token_fails_inside_the_dex_and_everywhere_else(self, bench: Bench) -> None:
        vault = bench.vault("erc4626").address
        bench.mint("USDC", bench.alice.address, 10_000 * USDC)
        bench.ok(bench.alice, bench.token("USDC").address, "TestToken", "approve", vault, 10_000 * USDC)
        bench.ok(bench.alice, vault, "StrategyVault4626", "deposit", 10_000 * USDC, bench.alice.address)
        d: Deployer = bench.d
        block_transfers(d, bench.token("USDC"), vault)
        for venue in ("v2", "v3", "fixture"):
            assert bench.reason(VENUES[venue].swap(bench, "erc4626", 100 * USDC)) == VENUES[venue].transfer
        # a redemption pays in USDC too: the token's own error comes back through SafeERC20
        redeem = bench.tx(bench.alice, vault, "StrategyVault4626", "redeem", 10 * USDC, bench.alice.address,
                          bench.alice.address)
        assert redeem.revert_reason == "TestToken: transfers from this account are blocked"
        block_transfers(d, bench.token("USDC"), vault, blocked=False)
        assert VENUES["v3"].swap(bench, "erc4626", 100 * USDC).success


@pytest.mark.anvil
def test_faults_look_the_same_on_both_backends(protocol_chains: ProtocolChains) -> None:
    """Status, reason and out-of-gas signature of every mode are identical on both."""
    seen = []
    for backend in ("eth-tester", "anvil"):
        b = make_bench(protocol_chains, backend)
        fund(b, "erc4626")
        rows = []
        for venue in sorted(VENUES):
            v = VENUES[venue]
            for mode in sorted(FAULT_MODES):
                arm_fault(b.d, b.world.fault_switch, b.pool_address(v.pool), mode, ARMED_REASON)
                r = v.swap(b, "erc4626", 500 * USDC)
                rows.append((venue, mode, r.status, b.reason(r), r.out_of_gas, r.block_number))
                disarm_fault(b.d, b.world.fault_switch, b.pool_address(v.pool))
            ok = v.swap(b, "erc4626", 500 * USDC)
            rows.append((venue, "none", ok.status, b.swapped(ok, "erc4626"), False, ok.block_number))
        seen.append(rows)
    assert seen[0] == seen[1]
