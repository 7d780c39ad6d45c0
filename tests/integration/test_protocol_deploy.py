"""Uniswap v2 and v3, deployed from their published builds, behave as the real ones do.

Expected values come from the protocols' own formulas written out here (v2's
getAmountOut and first-mint LP amount, v3's sqrt price encoding) or from the protocol's
own quoter, never from the deployment code under test.
"""

from __future__ import annotations

from decimal import Decimal
from math import isqrt

import pytest

from harness.protocols.chains import ProtocolChains
from harness.protocols.deploy import NO_DEADLINE, as_address
from harness.protocols.uniswap_v2 import V2Pool
from harness.protocols.uniswap_v3 import V3Pool
from tests.integration.protocol_worlds import BACKENDS, Bench, make_bench


@pytest.fixture(params=BACKENDS)
def bench(request: pytest.FixtureRequest, protocol_chains: ProtocolChains) -> Bench:
    return make_bench(protocol_chains, str(request.param))


def v2_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut, as published."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def _v2(b: Bench, key: str) -> V2Pool:
    pool = b.world.pools[key]
    assert isinstance(pool, V2Pool)
    return pool


def _v3(b: Bench, key: str) -> V3Pool:
    pool = b.world.pools[key]
    assert isinstance(pool, V3Pool)
    return pool


def _reserves(b: Bench, pool: V2Pool) -> tuple[int, int]:
    """(base, quote) reserves read from the pair."""
    r0, r1, _ = b.read(pool.address, "uniswap/UniswapV2Pair", "getReserves")
    return (r0, r1) if pool.base_is_token0 else (r1, r0)


class TestUniswapV2:
    def test_pair_holds_the_declared_price_and_depth(self, bench: Bench) -> None:
        pool = _v2(bench, "WETH/USDC@v2")
        assert _reserves(bench, pool) == (1000 * 10**18, 2_000_000 * 10**6)  # depth/price WETH, depth USDC
        assert as_address(bench.read(pool.address, "uniswap/UniswapV2Pair", "token0")) == min(
            bench.token("WETH").address, bench.token("USDC").address)

    def test_the_provider_holds_the_lp_tokens(self, bench: Bench) -> None:
        """First mint: sqrt(x*y) - MINIMUM_LIQUIDITY to the provider, 1,000 locked at address 0."""
        pool = _v2(bench, "WETH/USDC@v2")
        expected = isqrt(1000 * 10**18 * 2_000_000 * 10**6) - 1000
        lp = bench.read(pool.address, "uniswap/UniswapV2Pair", "balanceOf", bench.world.provider.address)
        assert lp == expected == pool.lp_tokens
        assert bench.read(pool.address, "uniswap/UniswapV2Pair", "balanceOf", b"\x00" * 20) == 1000

    def test_router02_swap_exact_tokens_for_tokens(self, bench: Bench) -> None:
        assert bench.world.v2 is not None
        router = bench.world.v2.router
        pool = _v2(bench, "WETH/USDC@v2")
        trader = bench.market
        amount = 7 * 10**18 + 3
        bench.mint("WETH", trader.address, amount)
        bench.ok(trader, bench.token("WETH").address, "TestToken", "approve", router, amount)
        base, quote = _reserves(bench, pool)
        path = [bench.token("WETH").address, bench.token("USDC").address]
        quoted = bench.read(router, "uniswap/UniswapV2Router02", "getAmountsOut", amount, path)
        bench.ok(trader, router, "uniswap/UniswapV2Router02", "swapExactTokensForTokens", amount, 0, path,
                 trader.address, NO_DEADLINE)
        got = bench.balance("USDC", trader.address)
        assert got == v2_out(amount, base, quote) == quoted[-1]
        assert _reserves(bench, pool) == (base + amount, quote - got)

    def test_router02_supporting_fee_on_transfer_tokens(self, bench: Bench) -> None:
        """FOT burns 1% per transfer: the pair gets 99% and prices that; the plain
        variant trusts amountIn and fails the pair's K check, as on mainnet."""
        assert bench.world.v2 is not None
        router = bench.world.v2.router
        pool = _v2(bench, "FOT/USDC@v2")
        trader = bench.market
        amount = 10_000 * 10**18
        bench.mint("FOT", trader.address, 2 * amount)
        bench.ok(trader, bench.token("FOT").address, "TestToken", "approve", router, 2 * amount)
        path = [bench.token("FOT").address, bench.token("USDC").address]
        plain = bench.tx(trader, router, "uniswap/UniswapV2Router02", "swapExactTokensForTokens", amount, 0, path,
                         trader.address, NO_DEADLINE)
        assert not plain.success and plain.revert_reason == "UniswapV2: K"
        base, quote = _reserves(bench, pool)
        bench.ok(trader, router, "uniswap/UniswapV2Router02", "swapExactTokensForTokensSupportingFeeOnTransferTokens",
                 amount, 0, path, trader.address, NO_DEADLINE)
        arrived = amount - amount // 100
        assert bench.balance("USDC", trader.address) == v2_out(arrived, base, quote)


class TestUniswapV3:
    @pytest.mark.parametrize(("fee", "spacing"), [(100, 1), (500, 10), (3000, 60), (10000, 200)])
    def test_every_fee_tier_with_its_tick_spacing(self, bench: Bench, fee: int, spacing: int) -> None:
        pool = _v3(bench, f"WETH/USDC@v3-{fee}")
        assert bench.read(pool.address, "uniswap/UniswapV3Pool", "fee") == fee
        assert bench.read(pool.address, "uniswap/UniswapV3Pool", "tickSpacing") == spacing
        assert pool.tick_spacing == spacing and all(p.tick_lower % spacing == 0 for p in pool.positions)

    def test_pool_starts_at_the_declared_price(self, bench: Bench) -> None:
        pool = _v3(bench, "WETH/USDC@v3-3000")
        sqrt_price, tick, *_ = bench.read(pool.address, "uniswap/UniswapV3Pool", "slot0")
        raw = Decimal(sqrt_price) ** 2 / Decimal(2) ** 192  # token1 units per token0 unit
        usdc_per_weth = (raw if pool.base_is_token0 else 1 / raw) * Decimal(10) ** 12
        assert abs(usdc_per_weth - 2000) < Decimal("1e-9")
        assert (int(sqrt_price), int(tick)) == (pool.sqrt_price_x96, pool.tick)

    def test_full_range_liquidity_is_v2s_sqrt_k(self, bench: Bench) -> None:
        """The documented mapping: a full-range position of L = sqrt(x*y) of the v2 reserves."""
        pool = _v3(bench, "WBTC/USDC@v3-3000")
        x, y = 50 * 10**8, 2_000_000 * 10**6  # depth/price WBTC, depth USDC
        liquidity = bench.read(pool.address, "uniswap/UniswapV3Pool", "liquidity")
        assert abs(liquidity - isqrt(x * y)) <= 1
        assert bench.world.v3 is not None
        (position,) = pool.positions
        owner = bench.read(bench.world.v3.position_manager, "uniswap/NonfungiblePositionManager", "ownerOf",
                           position.token_id)
        assert as_address(owner) == bench.world.provider.address

    def test_depth_matches_a_v2_pool_of_the_same_declaration(self, bench: Bench) -> None:
        """Selling into the full-range pool pays what v2's formula pays on the same
        reserves (both charge 0.3%), to a part in a million."""
        amount = 5 * 10**8  # 5 WBTC into 50 WBTC / 2M USDC
        out = bench.quote_v3(["WBTC", "USDC"], [3000], amount)
        v2 = v2_out(amount, 50 * 10**8, 2_000_000 * 10**6)
        assert abs(out - v2) * 10**6 < v2

    def test_swaprouter_exact_input_pays_the_quoter_v2_quote(self, bench: Bench) -> None:
        assert bench.world.v3 is not None
        router = bench.world.v3.swap_router
        trader = bench.market
        amount = 2 * 10**8 + 17
        bench.mint("WBTC", trader.address, amount)
        bench.ok(trader, bench.token("WBTC").address, "TestToken", "approve", router, amount)
        quoted = bench.quote_v3(["WBTC", "WETH", "USDC"], [500, 3000], amount)
        params = (bench.v3_path(["WBTC", "WETH", "USDC"], [500, 3000]), trader.address, NO_DEADLINE, amount, 0)
        bench.ok(trader, router, "uniswap/SwapRouter", "exactInput", params)
        assert bench.balance("USDC", trader.address) == quoted > 0
        assert bench.balance("WBTC", trader.address) == 0


@pytest.mark.anvil
def test_both_backends_deploy_the_same_world(protocol_chains: ProtocolChains) -> None:
    """Same admin, same order: identical addresses, blocks and pool states."""
    views = []
    for backend in ("eth-tester", "anvil"):
        b = make_bench(protocol_chains, backend)
        w = b.world
        pools = {}
        for key, pool in w.pools.items():
            if isinstance(pool, V3Pool):
                pools[key] = (pool.address, tuple(b.read(pool.address, "uniswap/UniswapV3Pool", "slot0")),
                              b.read(pool.address, "uniswap/UniswapV3Pool", "liquidity"))
            elif isinstance(pool, V2Pool):
                pools[key] = (pool.address, tuple(b.read(pool.address, "uniswap/UniswapV2Pair", "getReserves")), 0)
            else:
                pools[key] = (pool.address, tuple(b.read(pool.address, "Pair", "getReserves")), 0)
        views.append({
            "block": b.chain.block_number(),
            "tokens": {s: t.address for s, t in w.tokens.items()},
            "v2": w.v2, "v3": w.v3, "fixture": w.fixture,
            "vaults": {k: (v.address, tuple(v.tracked)) for k, v in w.vaults.items()},
            "pools": pools,
            "positions": {k: p.positions for k, p in w.pools.items() if isinstance(p, V3Pool)},
        })
    assert views[0] == views[1]
