"""Pricing from the chain: mid prices from pool reserves, executable quotes from the
router (fee and price impact included). One batched read per question per cycle.

Constant-product pools (the fixture AMM, Uniswap v2) are priced from their reserves with
the router's integer formula; Uniswap v3 pools from their state (slot0, liquidity, the
initialised ticks) with the runner's exact tick math (v3math), which pays what
SwapRouter.exactInput pays to the unit (tests/integration/test_v3_math.py).

Prices and fees are estimates, made in the 28 digits they always were whatever the
caller's context (runner/money.py): the books plan and value with them, and never round
an amount for them. What a fee-on-transfer token takes is a whole number of base units,
computed exactly."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.models import v3math
from runner.models.routing import RoutingModel
from runner.models.v3state import full_pool_state, read_pool_states
from runner.money import estimates, exact
from runner.universe import Dex, Pool, Token, Universe


@dataclass(frozen=True)
class Quote:
    """What a trade would do now: amounts in token units, price in reserve per asset."""

    amount_in: Decimal
    amount_out: Decimal
    price: Decimal
    lp_fee: Decimal  # in reserve units


@estimates
class PricingModel:
    """On-chain pricing for one cycle (or one trigger check); caches what it read."""

    def __init__(self, chain: ChainClient, universe: Universe, routing: RoutingModel) -> None:
        self.chain = chain
        self.universe = universe
        self.routing = routing
        self._pair = artifact("Pair")
        self._reserves: dict[bytes, tuple[int, int]] = {}
        self._v3: dict[bytes, v3math.PoolState] = {}

    def _load_reserves(self, pools: list[Pool]) -> None:
        missing = [p for p in pools if p.address not in self._reserves and p.address not in self._v3]
        if not missing:
            return
        pairs = [p for p in missing if p.dex != Dex.uniswap_v3]
        if pairs:
            fn = self._pair.fn("getReserves")  # the fixture Pair's and UniswapV2Pair's alike
            results = self.chain.read_many([(p.address, fn, ()) for p in pairs])
            for pool, (r0, r1, _ts) in zip(pairs, results, strict=True):
                self._reserves[pool.address] = (r0, r1)
        v3 = list(dict.fromkeys(p.address for p in missing if p.dex == Dex.uniswap_v3))
        if v3:
            self._v3.update(read_pool_states(self.chain, v3, self.universe.multicall))

    def pool_price(self, pool: Pool) -> Decimal:
        """Quote per base in the pool, from reserves or the v3 price (no fee, no impact)."""
        self._load_reserves([pool])
        if pool.dex == Dex.uniswap_v3:
            return self._v3_price(pool)
        r0, r1 = self._reserves[pool.address]
        base_units, quote_units = (r0, r1) if pool.base_is_token0 else (r1, r0)
        if base_units == 0:
            return Decimal(0)
        return pool.quote.from_units(quote_units) / pool.base.from_units(base_units)

    def _v3_price(self, pool: Pool) -> Decimal:
        """(sqrtPriceX96 / 2**96)**2 is token1 base units per token0 base unit."""
        sqrt_price = self._v3[pool.address].sqrt_price_x96
        with localcontext() as ctx:
            ctx.prec = 80
            ratio = Decimal(sqrt_price) ** 2 / Decimal(2**192)
            scale = Decimal(10) ** (pool.base.decimals - pool.quote.decimals)
            price = ratio * scale if pool.base_is_token0 else scale / ratio
        return +price

    def mid_prices(self, assets: list[str]) -> dict[str, Decimal]:
        """Reserve per unit of each asset, multiplied along its route."""
        paths = {a: self.routing.sell_path(a) for a in assets}
        self._load_reserves([p for path in paths.values() for p in self.routing.pools_on(path)])
        out: dict[str, Decimal] = {}
        for asset, path in paths.items():
            price = Decimal(1)
            for (a, _b), pool in zip(zip(path, path[1:], strict=False), self.routing.pools_on(path), strict=True):
                p = self.pool_price(pool)
                price *= p if pool.base.symbol == a.symbol else (1 / p if p else Decimal(0))
            out[asset] = price
        return out

    def mid_price(self, asset: str) -> Decimal:
        return self.mid_prices([asset])[asset]

    def _fee_fraction(self, pools: list[Pool]) -> Decimal:
        keep = Decimal(1)
        for pool in pools:
            keep *= 1 - pool.fee
        return 1 - keep

    @staticmethod
    def _after_fees(units: int, token: Token) -> int:
        """What arrives of `units` of a fee-on-transfer token: the token takes its fee
        rounded down (`amount * bps / 10000`) from what is sent, so the rest rounds up."""
        if not token.transfer_fee:
            return units
        with exact():  # 2**96 units are 29 digits
            return units - int((Decimal(units) * token.transfer_fee).to_integral_value(ROUND_DOWN))

    def _outputs(self, items: list[tuple[tuple[Token, ...], int]]) -> list[int]:
        """Units delivered at the end of each path for its input.

        Computed here from the pools' reserves with the router's own integer formula
        (Router.getAmountOut), so quoting N trades costs the one batched reserve read the
        cycle already made, not N calls. Fee-on-transfer tokens lose their fee at every
        transfer: each hop is quoted on what really reached the pair.
        """
        self._load_reserves([p for path, _ in items for p in self.routing.pools_on(path)])
        out = []
        for path, units in items:
            units = self._after_fees(units, path[0])
            for a, b in zip(path, path[1:], strict=False):
                units = self._after_fees(self._amount_out(units, a, b), b)
            out.append(units)
        return out

    def _amount_out(self, amount_in: int, token_in: Token, token_out: Token) -> int:
        if amount_in <= 0:
            return 0
        pool = self.routing.pool_between(token_in, token_out)
        if pool.dex == Dex.uniswap_v3:
            zero_for_one = token_in.address < token_out.address
            try:
                try:
                    return v3math.quote_exact_input_single(self._v3[pool.address], zero_for_one, amount_in)
                except v3math.TickDataMissing:  # the swap leaves the bitmap window read: read it all
                    self._v3[pool.address] = full_pool_state(self.chain, pool.address, self.universe.multicall)
                    return v3math.quote_exact_input_single(self._v3[pool.address], zero_for_one, amount_in)
            except v3math.V3MathError:
                return 0  # the pool cannot take this input (no liquidity that way)
        r0, r1 = self._reserves[pool.address]
        reserve_in, reserve_out = (r0, r1) if token_in.address < token_out.address else (r1, r0)
        if reserve_in == 0 or reserve_out == 0:
            return 0
        with_fee = amount_in * (10_000 - pool.fee_bps)
        return (with_fee * reserve_out) // (reserve_in * 10_000 + with_fee)

    def buy_quotes(self, requests: list[tuple[str, Decimal]]) -> list[Quote]:
        """Spend `reserve_amount` of reserve on each asset: what would we get."""
        paths = [self.routing.buy_path(asset) for asset, _ in requests]
        outputs = self._outputs([(p, p[0].to_units(amount)) for p, (_, amount) in zip(paths, requests, strict=True)])
        quotes = []
        for (_asset, reserve_amount), path, units in zip(requests, paths, outputs, strict=True):
            amount_out = path[-1].from_units(units)
            fee = reserve_amount * self._fee_fraction(self.routing.pools_on(path))
            price = reserve_amount / amount_out if amount_out else Decimal(0)
            quotes.append(Quote(reserve_amount, amount_out, price, fee))
        return quotes

    def sell_quotes(self, requests: list[tuple[str, Decimal]]) -> list[Quote]:
        """Sell `quantity` of each asset for reserve: what would we get."""
        live = [(i, self.routing.sell_path(a), q) for i, (a, q) in enumerate(requests) if q > 0]
        outputs = self._outputs([(path, path[0].to_units(q)) for _, path, q in live])
        quotes = [Quote(q, Decimal(0), Decimal(0), Decimal(0)) for _, q in requests]
        for (i, path, quantity), units in zip(live, outputs, strict=True):
            if units == 0:
                continue
            out = path[-1].from_units(units)
            fee_frac = self._fee_fraction(self.routing.pools_on(path))
            fee = out * fee_frac / (1 - fee_frac) if fee_frac < 1 else Decimal(0)
            quotes[i] = Quote(quantity, out, out / quantity, fee)
        return quotes

    def buy_quote(self, asset: str, reserve_amount: Decimal) -> Quote:
        return self.buy_quotes([(asset, reserve_amount)])[0]

    def sell_quote(self, asset: str, quantity: Decimal) -> Quote:
        return self.sell_quotes([(asset, quantity)])[0]


def pricing_model_factory(chain: ChainClient, universe: Universe, routing: RoutingModel) -> PricingModel:
    return PricingModel(chain, universe, routing)
