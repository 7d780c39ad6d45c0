"""runner.models.v3math quotes exactly what the real pools do (QuoterV2 is the truth).

For every fee tier, both directions and amounts from one unit to several times the
pool's depth (crossing the concentrated positions' ticks and leaving their ranges), the
Python quote equals QuoterV2's amount out and price after, to the unit. So does our
on-chain V3ViewQuoter (what the ERC-4626 vault values v3 holdings with). Real swaps
through SwapRouter then pay exactly the Python quote made before them, and leave the
pool in the state the Python swap predicted.
"""

from __future__ import annotations

import pytest

from harness.protocols.chains import ProtocolChains
from harness.protocols.deploy import NO_DEADLINE
from harness.protocols.uniswap_v3 import V3Pool, read_pool_state
from runner.chain.errors import CallReverted
from runner.models.v3math import PoolState, V3MathError, quote_exact_input, swap
from tests.integration.protocol_worlds import BACKENDS, Bench, make_bench

TIERS = [100, 500, 3000, 10000]


@pytest.fixture(params=BACKENDS)
def bench(request: pytest.FixtureRequest, protocol_chains: ProtocolChains) -> Bench:
    return make_bench(protocol_chains, str(request.param))


def _amounts(decimals: int, top: int, backend: str) -> list[int]:
    """One unit to 10**top tokens (several times the pools' depth): odd amounts at every
    other power of ten. py-evm interprets a big quote in about a second, so the embedded
    chain checks every other amount; anvil checks them all."""
    out = [1, 7]
    for e in range(1, decimals + top, 2):
        out.append(3 * 10**e + e)
    out.append(10 ** (decimals + top))
    return out if backend == "anvil" else out[::2] + [out[-1]]


def _quoter(b: Bench, pool: V3Pool, zero_for_one: bool, amount: int) -> tuple[int, int, int]:
    assert b.world.v3 is not None
    token_in, token_out = (pool.token0, pool.token1) if zero_for_one else (pool.token1, pool.token0)
    out, sqrt_after, crossed, _gas = b.read(b.world.v3.quoter_v2, "uniswap/QuoterV2", "quoteExactInputSingle",
                                            (token_in, token_out, amount, pool.fee, 0))
    return int(out), int(sqrt_after), int(crossed)


def _state(b: Bench, key: str) -> PoolState:
    """The pool's state within 128 bitmap words of its tick (wider than any swap here
    reaches: a quote that left it would raise TickDataMissing and fail the test)."""
    return read_pool_state(b.chain, b.pool_address(key), b.world.multicall, radius=128)


class TestQuotesEqualQuoterV2:
    @pytest.mark.parametrize("fee", TIERS)
    def test_single_pool_both_directions_every_size(self, bench: Bench, fee: int) -> None:
        key = f"WETH/USDC@v3-{fee}"
        pool = bench.world.pools[key]
        assert isinstance(pool, V3Pool)
        state = _state(bench, key)
        assert len(state.ticks) >= 4  # full range plus concentrated positions
        assert bench.world.v3 is not None
        crossed_by_direction = {}
        for zero_for_one in (True, False):
            most_crossed = 0
            token_in = pool.token0 if zero_for_one else pool.token1
            decimals = 18 if token_in == bench.token("WETH").address else 6
            top = 3 if decimals == 18 else 6  # 1,000 WETH / 1,000,000 USDC: beyond every range
            for amount in _amounts(decimals, top, bench.backend):
                expected_out, expected_sqrt, _crossed = _quoter(bench, pool, zero_for_one, amount)
                result = swap(state, zero_for_one, amount)
                assert (result.amount_out(zero_for_one), result.sqrt_price_x96) == (expected_out, expected_sqrt), (
                    f"{key} zeroForOne={zero_for_one} amountIn={amount}")
                token_out = pool.token1 if zero_for_one else pool.token0
                on_chain_view = bench.read(bench.world.v3.view_quoter, "V3ViewQuoter", "quoteExactInputSingle",
                                           token_in, token_out, fee, amount)
                assert on_chain_view == expected_out, f"V3ViewQuoter {key} zeroForOne={zero_for_one} {amount}"
                most_crossed = max(most_crossed, result.initialized_ticks_crossed)
            crossed_by_direction[zero_for_one] = most_crossed
        # both ways, the larger amounts leave the concentrated ranges: initialised ticks are crossed
        assert min(crossed_by_direction.values()) >= 1, crossed_by_direction

    def test_two_hop_paths(self, bench: Bench) -> None:
        """WBTC -> WETH (0.05%) -> USDC (0.3%) and back: hop by hop, as SwapRouter pays it."""
        assert bench.world.v3 is not None
        btc_eth = bench.world.pools["WBTC/WETH@v3-500"]
        eth_usdc = bench.world.pools["WETH/USDC@v3-3000"]
        assert isinstance(btc_eth, V3Pool) and isinstance(eth_usdc, V3Pool)
        s1, s2 = _state(bench, "WBTC/WETH@v3-500"), _state(bench, "WETH/USDC@v3-3000")
        weth, wbtc, usdc = (bench.token(s).address for s in ("WETH", "WBTC", "USDC"))
        path = bench.v3_path(["WBTC", "WETH", "USDC"], [500, 3000])
        # one WBTC unit buys 0 WETH units: the second hop is a zero swap, and both revert
        with pytest.raises(V3MathError) as info:
            quote_exact_input([(s1, wbtc < weth), (s2, weth < usdc)], 1)
        assert info.value.code == "AS"
        with pytest.raises(CallReverted):
            bench.quote_v3(["WBTC", "WETH", "USDC"], [500, 3000], 1)
        for amount in (10**4 + 1, 3 * 10**7, 10**9, 25 * 10**9):  # WBTC, 8 decimals
            hops = [(s1, wbtc < weth), (s2, weth < usdc)]
            out, _ = quote_exact_input(hops, amount)
            assert out == bench.quote_v3(["WBTC", "WETH", "USDC"], [500, 3000], amount)
            assert out == bench.read(bench.world.v3.view_quoter, "V3ViewQuoter", "quoteExactInput", path, amount)
        for amount in (10**6, 5 * 10**10, 3 * 10**12):  # USDC, 6 decimals
            hops = [(s2, usdc < weth), (s1, weth < wbtc)]
            out, _ = quote_exact_input(hops, amount)
            assert out == bench.quote_v3(["USDC", "WETH", "WBTC"], [3000, 500], amount)


class TestRealSwapsPayTheQuote:
    @pytest.mark.parametrize("fee", [100, 3000])
    def test_a_sequence_of_swaps_through_swaprouter(self, bench: Bench, fee: int) -> None:
        """Each swap pays exactly what v3math quoted from the state before it, and the
        pool ends where v3math said (price, tick, in-range liquidity)."""
        assert bench.world.v3 is not None
        key = f"WETH/USDC@v3-{fee}"
        pool = bench.world.pools[key]
        assert isinstance(pool, V3Pool)
        router = bench.world.v3.swap_router
        trader = bench.market
        for symbol in ("WETH", "USDC"):
            bench.mint(symbol, trader.address, 10**30)
            bench.ok(trader, bench.token(symbol).address, "TestToken", "approve", router, 2**256 - 1)
        weth_is_0 = pool.token0 == bench.token("WETH").address
        # sell WETH, buy it back with more, small and large, crossing ticks both ways
        steps = [("WETH", 3 * 10**18), ("USDC", 25_000 * 10**6), ("WETH", 40 * 10**18), ("USDC", 400_000 * 10**6),
                 ("WETH", 1), ("USDC", 3), ("WETH", 150 * 10**18)]
        state = _state(bench, key)
        crossed = 0
        for symbol, amount in steps:
            zero_for_one = (symbol == "WETH") == weth_is_0
            predicted = swap(state, zero_for_one, amount)
            out_symbol = "USDC" if symbol == "WETH" else "WETH"
            before = bench.balance(out_symbol, trader.address)
            params = (bench.token(symbol).address, bench.token(out_symbol).address, fee, trader.address,
                      NO_DEADLINE, amount, 0, 0)
            bench.ok(trader, router, "uniswap/SwapRouter", "exactInputSingle", params)
            assert bench.balance(out_symbol, trader.address) - before == predicted.amount_out(zero_for_one)
            sqrt_price, tick, *_ = bench.read(pool.address, "uniswap/UniswapV3Pool", "slot0")
            liquidity = bench.read(pool.address, "uniswap/UniswapV3Pool", "liquidity")
            assert (sqrt_price, tick, liquidity) == (predicted.sqrt_price_x96, predicted.tick, predicted.liquidity)
            state = state.after(predicted)  # the next quote starts from the predicted state
            crossed += predicted.initialized_ticks_crossed
        assert crossed >= 2
        again = _state(bench, key)  # swaps move the price, never the ticks' liquidityNet
        assert (again.sqrt_price_x96, again.tick, again.liquidity, dict(again.ticks)) == (
            state.sqrt_price_x96, state.tick, state.liquidity, dict(state.ticks))
