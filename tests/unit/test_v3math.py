"""runner.models.v3math against values that do not come from the module itself.

The constants are v3-core's (TickMath.MIN_SQRT_RATIO / MAX_SQRT_RATIO are by definition
getSqrtRatioAtTick(MIN_TICK / MAX_TICK)); the rest are properties TickMath documents or
hand-computed cases. The exhaustive check is against the deployed QuoterV2, in
tests/integration/test_v3_math.py.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from math import isqrt

import pytest

from runner.models import v3math as m


class TestTickMath:
    def test_bounds_are_v3_cores_constants(self) -> None:
        assert m.get_sqrt_ratio_at_tick(m.MIN_TICK) == 4295128739
        assert m.get_sqrt_ratio_at_tick(m.MAX_TICK) == 1461446703485210103287273052203988822378723970342
        assert m.get_sqrt_ratio_at_tick(0) == 2**96
        assert m.get_tick_at_sqrt_ratio(m.MIN_SQRT_RATIO) == m.MIN_TICK
        assert m.get_tick_at_sqrt_ratio(m.MAX_SQRT_RATIO - 1) == m.MAX_TICK - 1

    def test_out_of_range_reverts_like_the_library(self) -> None:
        with pytest.raises(m.V3MathError) as info:
            m.get_sqrt_ratio_at_tick(m.MAX_TICK + 1)
        assert info.value.code == "T"
        with pytest.raises(m.V3MathError) as info:
            m.get_tick_at_sqrt_ratio(m.MAX_SQRT_RATIO)
        assert info.value.code == "R"

    @pytest.mark.parametrize("tick", [-887272, -600000, -200311, -1, 0, 1, 50, 60, 200311, 887271])
    def test_tick_is_the_greatest_whose_ratio_does_not_exceed(self, tick: int) -> None:
        """TickMath's contract: getTickAtSqrtRatio(r) is the greatest t with ratio(t) <= r."""
        ratio = m.get_sqrt_ratio_at_tick(tick)
        assert m.get_tick_at_sqrt_ratio(ratio) == tick
        if tick > m.MIN_TICK:
            assert m.get_tick_at_sqrt_ratio(ratio - 1) == tick - 1

    @pytest.mark.parametrize("tick", [-500000, -12345, 1, 7, 100000, 400000])
    def test_ratio_is_sqrt_1_0001_pow_tick(self, tick: int) -> None:
        """Within the library's documented precision of the exact value."""
        with localcontext() as ctx:
            ctx.prec = 80
            exact = (Decimal("1.0001") ** tick).sqrt() * (Decimal(2) ** 96)
        got = Decimal(m.get_sqrt_ratio_at_tick(tick))
        assert abs(got - exact) / exact < Decimal("1e-18")


class TestSqrtPriceMath:
    def test_amount_deltas_of_a_known_range(self) -> None:
        """1e18 liquidity between price 1 and 1.21 (sqrt 1 -> 1.1): 0.0909... token0, 0.1 token1."""
        a, b, liq = 2**96, 2**96 * 11 // 10, 10**18
        down, up = m.get_amount1_delta(a, b, liq, False), m.get_amount1_delta(a, b, liq, True)
        assert 10**17 - 1 <= down <= 10**17 and up == down + 1  # 2**96 * 1.1 is not an integer
        down0, up0 = m.get_amount0_delta(a, b, liq, False), m.get_amount0_delta(b, a, liq, True)
        assert 90909090909090909 - 1 <= down0 <= 90909090909090909 < up0 <= 90909090909090911

    def test_wrapping_product_takes_the_fallback(self) -> None:
        """amount * sqrtP overflowing 256 bits must take the divRoundingUp branch, as on chain."""
        sqrt_p, liquidity, amount = 2**159, 10**18, 2**200
        got = m.get_next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount, True)
        numerator1 = liquidity << 96
        assert got == -(-numerator1 // (numerator1 // sqrt_p + amount))


class TestSwapStep:
    def test_exact_input_fee_is_taken_from_the_input(self) -> None:
        """Input that reaches the target: fee = ceil(amountIn * fee / (1e6 - fee))."""
        current, target, liquidity = 2**96, 2**96 * 101 // 100, 2 * 10**18
        price, amount_in, amount_out, fee = m.compute_swap_step(current, target, liquidity, 10**18, 3000)
        assert price == target
        assert fee == -(-amount_in * 3000 // 997000)
        assert amount_in + fee <= 10**18 and amount_out < amount_in

    def test_input_that_stops_short_pays_the_rest_as_fee(self) -> None:
        current, target, liquidity = 2**96, 2**96 * 2, 10**18
        price, amount_in, _out, fee = m.compute_swap_step(current, target, liquidity, 10**15, 500)
        assert price < target
        assert amount_in + fee == 10**15


class TestSwapLoop:
    def _state(self, ticks: dict[int, int], liquidity: int, tick: int = 0, spacing: int = 60) -> m.PoolState:
        return m.PoolState(m.get_sqrt_ratio_at_tick(tick), tick, liquidity, 3000, spacing, ticks)

    def test_constant_product_within_one_range(self) -> None:
        """Inside a wide range the swap is x*y=k on virtual reserves (L^2), less the fee."""
        liquidity = 10**24
        state = self._state({-60000: liquidity, 60000: -liquidity}, liquidity)
        out = m.quote_exact_input_single(state, True, 10**18)
        x, y = liquidity, liquidity  # virtual reserves at price 1
        with_fee = 10**18 * 997 // 1000
        expected = y - (x * y) // (x + with_fee)
        assert abs(out - expected) <= 2

    def test_crossing_a_tick_changes_the_liquidity_in_range(self) -> None:
        big, small = 10**20, 10**18
        ticks = {-120: small, 120: -small, -887220: big, 887220: -big}
        state = self._state(ticks, big + small)
        result = m.swap(state, True, 10**19)
        assert result.tick < -120 and result.liquidity == big and result.initialized_ticks_crossed == 1

    def test_steps_stop_at_every_bitmap_word(self) -> None:
        """Spacing 1, no initialised tick nearby: the loop still stops at word boundaries
        (256 ticks), as the pool does; the price after is the same either way."""
        liquidity = 10**22
        state = self._state({-887272: liquidity, 887272: -liquidity}, liquidity, tick=3, spacing=1)
        nxt, initialized = state.next_initialized_tick_within_one_word(3, True)
        assert (nxt, initialized) == (0, False)
        nxt, initialized = state.next_initialized_tick_within_one_word(3, False)
        assert (nxt, initialized) == (255, False)
        nxt, initialized = state.next_initialized_tick_within_one_word(-1, True)
        assert (nxt, initialized) == (-256, False)

    def test_limits_are_checked_like_the_pool(self) -> None:
        state = self._state({}, 10**18)
        with pytest.raises(m.V3MathError) as info:
            m.swap(state, True, 0)
        assert info.value.code == "AS"
        with pytest.raises(m.V3MathError) as info:
            m.swap(state, True, 10, sqrt_price_limit_x96=state.sqrt_price_x96 + 1)
        assert info.value.code == "SPL"


class TestLiquidityAmounts:
    def test_full_range_liquidity_of_v2_reserves_is_sqrt_k(self) -> None:
        x, y = 10**21, 2 * 10**12
        sqrt_p = m.encode_sqrt_ratio_x96(y, x)
        low, high = m.usable_tick(m.MIN_TICK, 60, round_up=True), m.usable_tick(m.MAX_TICK, 60)
        assert (low, high) == (-887220, 887220)
        liq = m.liquidity_for_amounts(sqrt_p, m.get_sqrt_ratio_at_tick(low), m.get_sqrt_ratio_at_tick(high), x, y)
        assert abs(liq - isqrt(x * y)) * 10**6 < isqrt(x * y)  # within 1 ppm of v2's sqrt(k)
