"""Uniswap v3 from its published build: factory, SwapRouter, QuoterV2, the position
manager, and pools at the real fee tiers with liquidity at a declared price and depth.

## Depth: how a v3 pool is made comparable to a v2 pool of the same declaration

A pool is declared like a v2 pool: `price` (quote per base) and `depth` (quote tokens),
i.e. the v2 reserves x = depth / price base and y = depth quote. The v3 pool is
initialised at exactly that reserve ratio (sqrtPriceX96 = sqrt(y/x) * 2**96, from the
integer amounts) and given, in total over its positions, the liquidity of that v2 pool:
L = sqrt(x * y) (v2's sqrt(k)). With the default single full-range position
(`FULL_RANGE`, ticks at the outermost multiples of the spacing), its virtual reserves
are the v2 reserves, so a trade moves the price along the same x*y = k curve as on the
v2 pool (only the fee tier differs). A concentrated position (`V3Range(lower, upper)`,
bounds as multiples of the price) keeps the same L, hence the same price impact while
the price stays inside the range, with far fewer tokens, and none outside it. Several
ranges split L by their `share`; overlapping shares add up where the ranges overlap.

Liquidity is added as an LP does: tokens minted to the provider, who approves the
NonfungiblePositionManager and mints a position NFT. The manager (24,384 bytes of
runtime code) fits EIP-170's 24,576-byte limit, so it deploys unchanged on py-evm and
on anvil without any code-size flag. It is deployed without a token descriptor
(address 0): `tokenURI` then reverts, nothing else uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from math import isqrt

from harness.protocols.deploy import NO_DEADLINE, Deployer, as_address
from harness.protocols.errors import UnexpectedChainState
from harness.protocols.tokens import APPROVE_GAS, mint
from harness.protocols.uniswap_v2 import reserves_for
from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet
from runner.models.v3math import (
    FEE_TICK_SPACING,
    MAX_TICK,
    MIN_TICK,
    PoolState,
    amounts_for_liquidity,
    encode_sqrt_ratio_x96,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
    liquidity_for_amounts,
    usable_tick,
)
from runner.models.v3math import (
    encode_path as encode_path,  # the path format is the runner's (it trades v3)
)
from runner.models.v3state import read_pool_window
from runner.universe import Token

FACTORY = "uniswap/UniswapV3Factory"
POOL = "uniswap/UniswapV3Pool"
SWAP_ROUTER = "uniswap/SwapRouter"
QUOTER_V2 = "uniswap/QuoterV2"
POSITION_MANAGER = "uniswap/NonfungiblePositionManager"
VIEW_QUOTER = "V3ViewQuoter"

FACTORY_DEPLOY_GAS = 6_500_000
ENABLE_FEE_GAS = 60_000
SWAP_ROUTER_DEPLOY_GAS = 3_200_000
QUOTER_DEPLOY_GAS = 2_200_000
POSITION_MANAGER_DEPLOY_GAS = 6_500_000
VIEW_QUOTER_DEPLOY_GAS = 2_000_000
CREATE_POOL_GAS = 5_600_000
MINT_POSITION_GAS = 800_000


@dataclass(frozen=True)
class UniswapV3Deployment:
    """The v3 core and periphery contracts of one chain, plus our view quoter."""

    factory: bytes
    swap_router: bytes
    quoter_v2: bytes
    position_manager: bytes
    view_quoter: bytes
    weth: bytes
    fee_tiers: tuple[tuple[int, int], ...]  # (fee in pips, tick spacing), all enabled


@dataclass(frozen=True)
class V3Range:
    """A position's price range as multiples of the pool's price (quote per base):
    None is the outermost usable tick. `share` is its part of the pool's liquidity."""

    lower: Decimal | None = None
    upper: Decimal | None = None
    share: Decimal = Decimal(1)


FULL_RANGE = V3Range()


@dataclass(frozen=True)
class V3Position:
    token_id: int
    tick_lower: int
    tick_upper: int
    liquidity: int
    amount0: int
    amount1: int


@dataclass(frozen=True)
class V3Pool:
    """A pool as deployed: fee tier, token order, initial price and its positions."""

    pair: str  # "BASE/QUOTE"
    address: bytes
    base: Token
    quote: Token
    fee: int  # pips: 100, 500, 3000, 10000
    tick_spacing: int
    token0: bytes
    token1: bytes
    sqrt_price_x96: int
    tick: int
    provider: bytes
    positions: tuple[V3Position, ...]

    @property
    def base_is_token0(self) -> bool:
        return self.token0 == self.base.address

    @property
    def fee_fraction(self) -> Decimal:
        return Decimal(self.fee) / Decimal(1_000_000)

    @property
    def liquidity(self) -> int:
        """The liquidity in range at the initial price."""
        return sum(p.liquidity for p in self.positions if p.tick_lower <= self.tick < p.tick_upper)


def deploy_uniswap_v3(d: Deployer, weth: bytes) -> UniswapV3Deployment:
    """UniswapV3Factory (with the 0.01% tier enabled, as governance did on mainnet),
    SwapRouter, QuoterV2, NonfungiblePositionManager and our V3ViewQuoter."""
    factory = d.deploy(FACTORY, gas=FACTORY_DEPLOY_GAS)
    d.send(d.admin, factory, FACTORY, "enableFeeAmount", 100, 1, gas=ENABLE_FEE_GAS, action="enable the 0.01% tier")
    router = d.deploy(SWAP_ROUTER, factory, weth, gas=SWAP_ROUTER_DEPLOY_GAS)
    quoter = d.deploy(QUOTER_V2, factory, weth, gas=QUOTER_DEPLOY_GAS)
    manager = d.deploy(POSITION_MANAGER, factory, weth, b"\x00" * 20, gas=POSITION_MANAGER_DEPLOY_GAS)
    view_quoter = d.deploy(VIEW_QUOTER, factory, gas=VIEW_QUOTER_DEPLOY_GAS)
    tiers = []
    for fee, spacing in sorted(FEE_TICK_SPACING.items()):
        on_chain = int(d.read(factory, FACTORY, "feeAmountTickSpacing", fee))
        if on_chain != spacing:
            raise UnexpectedChainState(f"the v3 factory at 0x{factory.hex()} gives fee {fee} the tick spacing "
                                       f"{on_chain}, expected {spacing}")
        tiers.append((fee, spacing))
    return UniswapV3Deployment(factory, router, quoter, manager, view_quoter, weth, tuple(tiers))


def _scaled_sqrt(sqrt_price: int, multiple: Decimal) -> int:
    num, den = multiple.as_integer_ratio()
    return isqrt(sqrt_price * sqrt_price * num // den)


def ticks_for_range(spec: V3Range, sqrt_price: int, spacing: int, base_is_token0: bool) -> tuple[int, int]:
    """The (lower, upper) ticks of a range given as multiples of the base's price.

    The pool's price is token1 per token0: if the base is token1, a higher base price is
    a lower pool price, so the multiples are inverted and swapped. Bounds are widened to
    the spacing (lower rounded down, upper up) so the range always contains them."""
    lowest, highest = usable_tick(MIN_TICK, spacing, round_up=True), usable_tick(MAX_TICK, spacing)
    lo_mult, hi_mult = spec.lower, spec.upper
    if not base_is_token0:
        lo_mult, hi_mult = (None if spec.upper is None else 1 / spec.upper), (None if spec.lower is None else 1 / spec.lower)
    for m in (lo_mult, hi_mult):
        if m is not None and m <= 0:
            raise ValueError(f"range bounds must be positive multiples of the price, got {spec}")
    lower = lowest if lo_mult is None else max(lowest, usable_tick(get_tick_at_sqrt_ratio(_scaled_sqrt(sqrt_price, lo_mult)), spacing))
    upper = highest if hi_mult is None else min(highest, usable_tick(
        get_tick_at_sqrt_ratio(_scaled_sqrt(sqrt_price, hi_mult)), spacing, round_up=True))
    if lower >= upper:
        raise ValueError(f"range {spec} is empty at tick spacing {spacing}")
    return lower, upper


def create_v3_pool(d: Deployer, v3: UniswapV3Deployment, base: Token, quote: Token, *, fee: int, price: Decimal,
                   depth: Decimal, provider: Wallet, ranges: Sequence[V3Range] = (FULL_RANGE,)) -> V3Pool:
    """Create and initialise the pool at the declared price and mint its positions.

    See the module docstring for the depth mapping: total liquidity sqrt(x*y) of the v2
    reserves (x, y) of the same declaration, split over `ranges` by their shares."""
    spacing = dict(v3.fee_tiers).get(fee)
    if spacing is None:
        raise ValueError(f"fee {fee} is not a v3 fee tier; the factory has {[f for f, _ in v3.fee_tiers]}")
    base_units, quote_units = reserves_for(base, quote, price, depth)
    base_is_token0 = base.address < quote.address
    token0, token1 = (base, quote) if base_is_token0 else (quote, base)
    amount0, amount1 = (base_units, quote_units) if base_is_token0 else (quote_units, base_units)
    sqrt_price = encode_sqrt_ratio_x96(amount1, amount0)
    total_liquidity = isqrt(amount0 * amount1)
    name = f"{base.symbol}/{quote.symbol}"
    d.send(d.admin, v3.position_manager, POSITION_MANAGER, "createAndInitializePoolIfNecessary",
           token0.address, token1.address, fee, sqrt_price, gas=CREATE_POOL_GAS,
           action=f"create v3 pool {name} {fee}")
    address = d.read_address(v3.factory, FACTORY, "getPool", token0.address, token1.address, fee)
    sqrt_on_chain, tick, *_ = d.read(address, POOL, "slot0")
    if int(sqrt_on_chain) != sqrt_price:
        raise UnexpectedChainState(f"v3 pool {name} {fee} at 0x{address.hex()} is at sqrtPriceX96 {sqrt_on_chain}, "
                                   f"expected {sqrt_price} (was it created before?)")
    plans = []
    for spec in ranges:
        lower, upper = ticks_for_range(spec, sqrt_price, spacing, base_is_token0)
        target = int(Decimal(total_liquidity) * spec.share)
        need0, need1 = amounts_for_liquidity(sqrt_price, get_sqrt_ratio_at_tick(lower), get_sqrt_ratio_at_tick(upper), target)
        plans.append((lower, upper, need0, need1))
    sends = []
    with d.block():
        mint(d, token0, provider.address, sum(p[2] for p in plans))
        mint(d, token1, provider.address, sum(p[3] for p in plans))
        d.send(provider, token0.address, "TestToken", "approve", v3.position_manager, sum(p[2] for p in plans),
               gas=APPROVE_GAS)
        d.send(provider, token1.address, "TestToken", "approve", v3.position_manager, sum(p[3] for p in plans),
               gas=APPROVE_GAS)
        for lower, upper, need0, need1 in plans:
            params = (token0.address, token1.address, fee, lower, upper, need0, need1, 0, 0, provider.address,
                      NO_DEADLINE)
            sends.append(d.send(provider, v3.position_manager, POSITION_MANAGER, "mint", params,
                                gas=MINT_POSITION_GAS, action=f"mint v3 position [{lower}, {upper}] in {name} {fee}"))
    increase = artifact(POSITION_MANAGER).event("IncreaseLiquidity")
    positions = []
    for (lower, upper, need0, need1), sent in zip(plans, sends, strict=True):
        assert sent.receipt is not None
        logs = [lg for lg in sent.receipt.logs if lg.address == v3.position_manager and lg.topics[0] == increase.topic]
        ev = increase.decode(logs[0].topics, logs[0].data)
        expected = liquidity_for_amounts(sqrt_price, get_sqrt_ratio_at_tick(lower), get_sqrt_ratio_at_tick(upper),
                                         need0, need1)
        if int(ev["liquidity"]) != expected:
            raise UnexpectedChainState(f"position [{lower}, {upper}] of {name} {fee} got liquidity {ev['liquidity']}, "
                                       f"LiquidityAmounts gives {expected}")
        positions.append(V3Position(int(ev["tokenId"]), lower, upper, int(ev["liquidity"]), int(ev["amount0"]),
                                    int(ev["amount1"])))
    return V3Pool(name, address, base, quote, fee, spacing, token0.address, token1.address, sqrt_price, int(tick),
                  provider.address, tuple(positions))


def read_pool_state(chain: ChainClient, pool: bytes, multicall: bytes, radius: int | None = None) -> PoolState:
    """Everything a swap reads from `pool` at the head, with the bitmap words within
    `radius` words of the current tick's (None: all of them, 6,932 words at spacing 1).

    The runner's own reader (`runner.models.v3state`), uncached and with the window the
    caller asks for: tests and benchmarks check the runner's tick math against the quoter
    on exactly the state the runner would read."""
    return read_pool_window(chain, pool, multicall, radius)


def pool_address(chain: ChainClient, v3: UniswapV3Deployment, token_a: bytes, token_b: bytes, fee: int) -> bytes:
    address = as_address(chain.read(v3.factory, artifact(FACTORY).fn("getPool"), token_a, token_b, fee))
    if address == b"\x00" * 20:
        raise UnexpectedChainState(f"no v3 pool for 0x{token_a.hex()}/0x{token_b.hex()} at fee {fee}")
    return address
