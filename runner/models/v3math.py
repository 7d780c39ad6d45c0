"""Uniswap v3 swap math in exact integers: what a pool would do, to the last unit.

A line-by-line port of v3-core's TickMath, SqrtPriceMath, SwapMath, TickBitmap's
`nextInitializedTickWithinOneWord` and the loop of `UniswapV3Pool.swap`, including
the places where the Solidity relies on 256-bit wrap-around (`amount * sqrtPX96`
overflow detection) and where it reverts. The pool steps word by word through its tick
bitmap and rounds every step separately, so a quote that skipped those intermediate
steps could differ by a unit: this module steps exactly as the pool does. It is checked
against the deployed QuoterV2 for many amounts, both directions, every fee tier and
across initialised ticks (tests/integration/test_v3_math.py).

Pure functions over ints (no Decimal, no floats, no I/O): the runner can quote N trades
from one read of the pool's state instead of N quoter calls.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import isqrt

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
Q96 = 1 << 96
MAX_UINT256 = (1 << 256) - 1
MAX_UINT160 = (1 << 160) - 1
MAX_UINT128 = (1 << 128) - 1
MAX_INT256 = (1 << 255) - 1
FEE_DENOMINATOR = 1_000_000
#: The fee tiers of the published v3 factory (fee in pips -> tick spacing); 100 is not
#: enabled at construction and must be enabled by the factory owner (as on mainnet).
FEE_TICK_SPACING: dict[int, int] = {100: 1, 500: 10, 3000: 60, 10000: 200}


class TickDataMissing(LookupError):
    """The swap needs a tick-bitmap word outside the part of the pool state that was read:
    read a wider window (or the whole bitmap) and quote again."""

    def __init__(self, word: int, known: tuple[int, int]) -> None:
        self.word = word
        self.known = known
        super().__init__(f"bitmap word {word} is outside the words read [{known[0]}, {known[1]}]")


class V3MathError(ArithmeticError):
    """The pool would revert here; `code` is its revert string ('' for a bare require)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{message} (the pool reverts{' with ' + repr(code) if code else ''})")


# -- FullMath / UnsafeMath ----------------------------------------------------------------

def mul_div(a: int, b: int, denominator: int) -> int:
    """floor(a*b/denominator); reverts (as FullMath) on a zero denominator or a result
    that does not fit 256 bits."""
    if denominator == 0:
        raise V3MathError("", "mulDiv by zero")
    result = a * b // denominator
    if result > MAX_UINT256:
        raise V3MathError("", "mulDiv result overflows 256 bits")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    result = mul_div(a, b, denominator)
    if a * b % denominator:
        if result >= MAX_UINT256:
            raise V3MathError("", "mulDivRoundingUp result overflows 256 bits")
        result += 1
    return result


def div_rounding_up(x: int, y: int) -> int:
    """UnsafeMath.divRoundingUp (y > 0 at every call site)."""
    q, r = divmod(x, y)
    return q + 1 if r else q


# -- TickMath -------------------------------------------------------------------------------

_TICK_FACTORS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)


def get_sqrt_ratio_at_tick(tick: int) -> int:
    """sqrt(1.0001^tick) as a Q64.96, rounded up exactly as TickMath does."""
    abs_tick = -tick if tick < 0 else tick
    if abs_tick > MAX_TICK:
        raise V3MathError("T", f"tick {tick} outside [{MIN_TICK}, {MAX_TICK}]")
    ratio = 0xFFFCB933BD6FAD37AA2D162D1A594001 if abs_tick & 0x1 else 0x100000000000000000000000000000000
    for bit, factor in _TICK_FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = MAX_UINT256 // ratio
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """The greatest tick whose sqrt ratio is <= `sqrt_price_x96` (TickMath's algorithm)."""
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise V3MathError("R", f"sqrt price {sqrt_price_x96} outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)")
    ratio = sqrt_price_x96 << 32
    msb = ratio.bit_length() - 1
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * 255738958999603826347141
    tick_low = (log_sqrt10001 - 3402992956809132418596140100660247210) >> 128
    tick_high = (log_sqrt10001 + 291339464771989622907027621153398088495) >> 128
    if tick_low == tick_high:
        return tick_low
    return tick_high if get_sqrt_ratio_at_tick(tick_high) <= sqrt_price_x96 else tick_low


def encode_sqrt_ratio_x96(amount1: int, amount0: int) -> int:
    """floor(sqrt(amount1/amount0) * 2**96): the price of reserves amount0:amount1."""
    if amount0 <= 0 or amount1 <= 0:
        raise ValueError(f"both amounts must be positive, got {amount0} and {amount1}")
    return isqrt((amount1 << 192) // amount0)


# -- SqrtPriceMath ------------------------------------------------------------------------------

def _to_uint160(x: int) -> int:
    if x > MAX_UINT160:
        raise V3MathError("", "sqrt price overflows 160 bits")
    return x


def get_next_sqrt_price_from_amount0_rounding_up(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    if amount == 0:
        return sqrt_p
    numerator1 = liquidity << 96
    product = (amount * sqrt_p) & MAX_UINT256  # Solidity's wrapping multiplication
    if add:
        if product // amount == sqrt_p:
            denominator = (numerator1 + product) & MAX_UINT256
            if denominator >= numerator1:
                return mul_div_rounding_up(numerator1, sqrt_p, denominator)
        divisor = numerator1 // sqrt_p + amount
        if divisor > MAX_UINT256:
            raise V3MathError("", "amount0 too large")
        return div_rounding_up(numerator1, divisor)
    if not (product // amount == sqrt_p and numerator1 > product):
        raise V3MathError("", "amount0 out exceeds the virtual reserve")
    return _to_uint160(mul_div_rounding_up(numerator1, sqrt_p, numerator1 - product))


def get_next_sqrt_price_from_amount1_rounding_down(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    if add:
        quotient = (amount << 96) // liquidity if amount <= MAX_UINT160 else mul_div(amount, Q96, liquidity)
        return _to_uint160(sqrt_p + quotient)
    quotient = (div_rounding_up(amount << 96, liquidity) if amount <= MAX_UINT160
                else mul_div_rounding_up(amount, Q96, liquidity))
    if sqrt_p <= quotient:
        raise V3MathError("", "amount1 out exceeds the virtual reserve")
    return sqrt_p - quotient


def get_next_sqrt_price_from_input(sqrt_p: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    if sqrt_p <= 0 or liquidity <= 0:
        raise V3MathError("", "zero price or liquidity")
    if zero_for_one:
        return get_next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount_in, True)
    return get_next_sqrt_price_from_amount1_rounding_down(sqrt_p, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(sqrt_p: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    if sqrt_p <= 0 or liquidity <= 0:
        raise V3MathError("", "zero price or liquidity")
    if zero_for_one:
        return get_next_sqrt_price_from_amount1_rounding_down(sqrt_p, liquidity, amount_out, False)
    return get_next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount_out, False)


def get_amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a <= 0:
        raise V3MathError("", "zero sqrt price")
    numerator1 = liquidity << 96
    numerator2 = sqrt_b - sqrt_a
    if round_up:
        return div_rounding_up(mul_div_rounding_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return mul_div(numerator1, numerator2, sqrt_b) // sqrt_a


def get_amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_b - sqrt_a, Q96)
    return mul_div(liquidity, sqrt_b - sqrt_a, Q96)


# -- SwapMath ---------------------------------------------------------------------------------------

def compute_swap_step(sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int,
                      fee_pips: int) -> tuple[int, int, int, int]:
    """One step of a swap within one liquidity range.

    Returns (sqrt price after, amount in without fee, amount out, fee amount); a positive
    `amount_remaining` is an exact input, a negative one an exact output.
    """
    zero_for_one = sqrt_current >= sqrt_target
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        remaining_less_fee = mul_div(amount_remaining, FEE_DENOMINATOR - fee_pips, FEE_DENOMINATOR)
        amount_in = (get_amount0_delta(sqrt_target, sqrt_current, liquidity, True) if zero_for_one
                     else get_amount1_delta(sqrt_current, sqrt_target, liquidity, True))
        if remaining_less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:
            sqrt_next = get_next_sqrt_price_from_input(sqrt_current, liquidity, remaining_less_fee, zero_for_one)
    else:
        amount_out = (get_amount1_delta(sqrt_target, sqrt_current, liquidity, False) if zero_for_one
                      else get_amount0_delta(sqrt_current, sqrt_target, liquidity, False))
        if -amount_remaining >= amount_out:
            sqrt_next = sqrt_target
        else:
            sqrt_next = get_next_sqrt_price_from_output(sqrt_current, liquidity, -amount_remaining, zero_for_one)
    reached = sqrt_target == sqrt_next
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = get_amount0_delta(sqrt_next, sqrt_current, liquidity, True)
        if not (reached and not exact_in):
            amount_out = get_amount1_delta(sqrt_next, sqrt_current, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = get_amount1_delta(sqrt_current, sqrt_next, liquidity, True)
        if not (reached and not exact_in):
            amount_out = get_amount0_delta(sqrt_current, sqrt_next, liquidity, False)
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining
    if exact_in and sqrt_next != sqrt_target:
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, FEE_DENOMINATOR - fee_pips)
    return sqrt_next, amount_in, amount_out, fee_amount


# -- the pool -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolState:
    """What a swap reads from a pool: slot0's price and tick, the in-range liquidity, the
    fee (pips) and spacing, and `liquidityNet` of every initialised tick.

    `words` is the inclusive range of tick-bitmap words whose ticks `ticks` holds (None:
    all of them). A swap that steps outside raises TickDataMissing instead of guessing."""

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee: int
    tick_spacing: int
    ticks: Mapping[int, int]  # initialised tick -> liquidityNet
    words: tuple[int, int] | None = None
    _compressed: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spacing = self.tick_spacing
        for t in self.ticks:
            if t % spacing:
                raise ValueError(f"tick {t} is not a multiple of the tick spacing {spacing}")
        object.__setattr__(self, "_compressed", tuple(sorted(t // spacing for t in self.ticks)))

    def next_initialized_tick_within_one_word(self, tick: int, lte: bool) -> tuple[int, bool]:
        """TickBitmap.nextInitializedTickWithinOneWord over this state's ticks."""
        spacing = self.tick_spacing
        compressed = tick // spacing  # floor, as the bitmap rounds towards negative infinity
        ticks = self._compressed
        word = compressed >> 8 if lte else (compressed + 1) >> 8
        if self.words is not None and not self.words[0] <= word <= self.words[1]:
            raise TickDataMissing(word, self.words)
        if lte:
            word_start = (compressed >> 8) << 8
            i = bisect_right(ticks, compressed) - 1
            if i >= 0 and ticks[i] >= word_start:
                return ticks[i] * spacing, True
            return word_start * spacing, False
        nxt = compressed + 1
        word_end = ((nxt >> 8) << 8) + 255
        i = bisect_left(ticks, nxt)
        if i < len(ticks) and ticks[i] <= word_end:
            return ticks[i] * spacing, True
        return word_end * spacing, False

    def after(self, result: SwapResult) -> PoolState:
        """The state after `result` was executed on this state (ticks are unchanged)."""
        return PoolState(result.sqrt_price_x96, result.tick, result.liquidity, self.fee, self.tick_spacing, self.ticks,
                         self.words)


@dataclass(frozen=True, slots=True)
class SwapResult:
    """The pool's return values (token deltas, positive = paid into the pool) and its
    state after the swap."""

    amount0: int
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    initialized_ticks_crossed: int

    def amount_out(self, zero_for_one: bool) -> int:
        return -(self.amount1 if zero_for_one else self.amount0)

    def amount_in(self, zero_for_one: bool) -> int:
        return self.amount0 if zero_for_one else self.amount1


def swap(state: PoolState, zero_for_one: bool, amount_specified: int,
         sqrt_price_limit_x96: int | None = None) -> SwapResult:
    """UniswapV3Pool.swap without the transfers: exact input for a positive amount,
    exact output for a negative one. Without a limit, the extreme price the periphery
    uses (MIN_SQRT_RATIO + 1 / MAX_SQRT_RATIO - 1): the pool then swaps until the amount
    is used or liquidity runs out."""
    if amount_specified == 0:
        raise V3MathError("AS", "zero swap amount")
    limit = sqrt_price_limit_x96
    if limit is None:
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    price = state.sqrt_price_x96
    if zero_for_one:
        if not (MIN_SQRT_RATIO < limit < price):
            raise V3MathError("SPL", f"price limit {limit} not below the price {price}")
    elif not (price < limit < MAX_SQRT_RATIO):
        raise V3MathError("SPL", f"price limit {limit} not above the price {price}")
    exact_input = amount_specified > 0
    remaining = amount_specified
    calculated = 0
    tick = state.tick
    liquidity = state.liquidity
    fee = state.fee
    crossed = 0
    while remaining != 0 and price != limit:
        start = price
        tick_next, initialized = state.next_initialized_tick_within_one_word(tick, zero_for_one)
        tick_next = min(max(tick_next, MIN_TICK), MAX_TICK)
        price_next = get_sqrt_ratio_at_tick(tick_next)
        beyond = price_next < limit if zero_for_one else price_next > limit
        price, step_in, step_out, step_fee = compute_swap_step(
            price, limit if beyond else price_next, liquidity, remaining, fee)
        if exact_input:
            remaining -= step_in + step_fee
            calculated -= step_out
        else:
            remaining += step_out
            calculated += step_in + step_fee
        if price == price_next:
            if initialized:
                net = state.ticks[tick_next]
                if zero_for_one:
                    net = -net
                new_liquidity = liquidity + net
                if new_liquidity < 0:
                    raise V3MathError("LS", f"liquidity underflow crossing tick {tick_next}")
                if new_liquidity > MAX_UINT128:
                    raise V3MathError("LA", f"liquidity overflow crossing tick {tick_next}")
                liquidity = new_liquidity
                crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
        elif price != start:
            tick = get_tick_at_sqrt_ratio(price)
    if zero_for_one == exact_input:
        amount0, amount1 = amount_specified - remaining, calculated
    else:
        amount0, amount1 = calculated, amount_specified - remaining
    return SwapResult(amount0, amount1, price, tick, liquidity, crossed)


def quote_exact_input_single(state: PoolState, zero_for_one: bool, amount_in: int,
                             sqrt_price_limit_x96: int | None = None) -> int:
    """What QuoterV2.quoteExactInputSingle returns as amountOut."""
    return swap(state, zero_for_one, amount_in, sqrt_price_limit_x96).amount_out(zero_for_one)


def quote_exact_input(hops: Sequence[tuple[PoolState, bool]], amount_in: int) -> tuple[int, list[SwapResult]]:
    """A multi-hop exact-input swap (SwapRouter.exactInput / QuoterV2.quoteExactInput):
    each hop's output is the next hop's input. `hops` are (pool state, zeroForOne)."""
    results = []
    amount = amount_in
    for state, zero_for_one in hops:
        result = swap(state, zero_for_one, amount)
        results.append(result)
        amount = result.amount_out(zero_for_one)
    return amount, results


# -- liquidity (periphery LiquidityAmounts) ------------------------------------------------------------

def liquidity_for_amount0(sqrt_a: int, sqrt_b: int, amount0: int) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    intermediate = mul_div(sqrt_a, sqrt_b, Q96)
    return mul_div(amount0, intermediate, sqrt_b - sqrt_a)


def liquidity_for_amount1(sqrt_a: int, sqrt_b: int, amount1: int) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    return mul_div(amount1, Q96, sqrt_b - sqrt_a)


def liquidity_for_amounts(sqrt_price: int, sqrt_a: int, sqrt_b: int, amount0: int, amount1: int) -> int:
    """LiquidityAmounts.getLiquidityForAmounts: the most liquidity the amounts can back
    (NonfungiblePositionManager.mint uses it); the uint128 cast is checked here."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_price <= sqrt_a:
        liquidity = liquidity_for_amount0(sqrt_a, sqrt_b, amount0)
    elif sqrt_price < sqrt_b:
        liquidity = min(liquidity_for_amount0(sqrt_price, sqrt_b, amount0),
                        liquidity_for_amount1(sqrt_a, sqrt_price, amount1))
    else:
        liquidity = liquidity_for_amount1(sqrt_a, sqrt_b, amount1)
    if liquidity > MAX_UINT128:
        raise V3MathError("", "liquidity overflows 128 bits")
    return liquidity


def amounts_for_liquidity(sqrt_price: int, sqrt_a: int, sqrt_b: int, liquidity: int) -> tuple[int, int]:
    """What the pool charges (rounded up, as Pool.mint) to add `liquidity` in [a, b]."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_price <= sqrt_a:
        return get_amount0_delta(sqrt_a, sqrt_b, liquidity, True), 0
    if sqrt_price < sqrt_b:
        return (get_amount0_delta(sqrt_price, sqrt_b, liquidity, True),
                get_amount1_delta(sqrt_a, sqrt_price, liquidity, True))
    return 0, get_amount1_delta(sqrt_a, sqrt_b, liquidity, True)


def usable_tick(tick: int, tick_spacing: int, *, round_up: bool = False) -> int:
    """The nearest initialisable tick at or below (or above) `tick`, within the bounds."""
    lowest = -(MAX_TICK // tick_spacing) * tick_spacing
    highest = (MAX_TICK // tick_spacing) * tick_spacing
    snapped = -((-tick) // tick_spacing) * tick_spacing if round_up else (tick // tick_spacing) * tick_spacing
    return min(max(snapped, lowest), highest)


# -- paths (periphery Path) ---------------------------------------------------------------------------

def encode_path(tokens: Sequence[bytes], fees: Sequence[int]) -> bytes:
    """The packed path of SwapRouter.exactInput / QuoterV2.quoteExactInput:
    token (20 bytes), then fee (3 bytes, pips) and token for every hop."""
    if len(tokens) != len(fees) + 1 or not fees:
        raise ValueError(f"a path of {len(tokens)} tokens needs {len(tokens) - 1} fees, got {len(fees)}")
    out = bytearray(tokens[0])
    for fee, token in zip(fees, tokens[1:], strict=True):
        out += fee.to_bytes(3, "big") + token
    return bytes(out)
