"""What the strategy can trade: tokens, pools and the contracts it trades through.

Built once per run from the deployed world (or a fork's addresses) and stable between
ticks; everything here is immutable so routing and pricing can cache on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from runner.money import books, floor


class Dex(StrEnum):
    """Which exchange a pool lives on; decides how the runner prices and trades it.

    The names are the scenario format's (`pools: [{dex: ...}]`): defined here, in the
    runner, because the runner dispatches on them and may not import the harness."""

    fixture = "fixture"  # the project's own AMM (fixtures/contracts/Pair.sol, Router.sol)
    uniswap_v2 = "uniswap-v2"  # UniswapV2Pair, traded through Router02
    uniswap_v3 = "uniswap-v3"  # UniswapV3Pool, traded through SwapRouter.exactInput


class VaultKind(StrEnum):
    """Which strategy vault holds the assets (`vault: {kind: ...}` in a scenario).

    legacy: the fixture `Vault` (NAV posted by the runner, swaps through the fixture
    Router only); erc4626: StrategyVault4626 (NAV computed on chain in the block of each
    deposit and redemption); async: AsyncStrategyVault (ERC-7540 requests)."""

    legacy = "legacy"
    erc4626 = "erc4626"
    async_ = "async"

    @property
    def posts_nav(self) -> bool:
        """Only the legacy vault prices shares off a NAV the runner publishes."""
        return self is VaultKind.legacy


V3_FEE_TIERS: tuple[Decimal, ...] = (Decimal("0.0001"), Decimal("0.0005"), Decimal("0.003"), Decimal("0.01"))
"""Uniswap v3's fee tiers (100, 500, 3000 and 10000 pips) as fractions."""
V2_FEE = Decimal("0.003")
"""Uniswap v2's one fee (UniswapV2Library.getAmountOut's 997/1000)."""


@books  # 2**96 base units are 29 digits: the default context would round them
@dataclass(frozen=True)
class Token:
    symbol: str
    address: bytes
    decimals: int
    rebasing: bool = False
    transfer_fee: Decimal = Decimal(0)  # fee-on-transfer tokens lose this share per transfer

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)

    def to_units(self, amount: Decimal) -> int:
        """Token amount -> integer base units, rounding down (never spend what we lack)."""
        return int(amount.scaleb(self.decimals).to_integral_value(rounding=ROUND_DOWN))

    def from_units(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.decimals)

    def quantize(self, amount: Decimal) -> Decimal:
        """`amount` rounded down to a whole number of base units."""
        return floor(amount, self.unit)


@dataclass(frozen=True)
class Pool:
    """A pool named BASE/QUOTE (price is QUOTE per BASE): a constant-product pair
    (fixture, uniswap-v2) or a concentrated-liquidity pool (uniswap-v3), by `dex`."""

    pair: str
    base: Token
    quote: Token
    address: bytes
    fee: Decimal
    dex: Dex = Dex.fixture

    @property
    def fee_bps(self) -> int:
        return int((self.fee * 10_000).to_integral_value())

    @property
    def fee_pips(self) -> int:
        """The fee in millionths: a v3 pool's `fee()` and its path encoding."""
        return int((self.fee * 1_000_000).to_integral_value())

    @property
    def base_is_token0(self) -> bool:
        # A pair orders its tokens by address as numbers: compare the raw bytes (a
        # bytes.lower() would shift bytes 0x41-0x5a and misorder some pairs).
        return self.base.address < self.quote.address


@dataclass(frozen=True)
class Universe:
    reserve: Token
    tokens: dict[str, Token]
    pools: dict[str, Pool]
    router: bytes
    vault: bytes
    multicall: bytes
    factory: bytes
    chain_id: int = 0
    extra: dict[str, bytes] = field(default_factory=dict)
    vault_kind: VaultKind = VaultKind.legacy
    #: The router the vault trades each dex through (legacy: the fixture Router only).
    routers: dict[Dex, bytes] = field(default_factory=dict)
    #: V3ViewQuoter: exact v3 quotes from a view (what the real vaults value v3 holdings by).
    v3_quoter: bytes = b""

    def token(self, symbol: str) -> Token:
        return self.tokens[symbol]

    def pool(self, pair: str) -> Pool:
        return self.pools[pair]

    def tradeable_assets(self) -> list[str]:
        """Every non-reserve token, in universe order."""
        return [s for s in self.tokens if s != self.reserve.symbol]

    def pair_for(self, asset: str) -> str:
        """The pair a position in `asset` is named by: direct to the reserve if one exists."""
        direct = f"{asset}/{self.reserve.symbol}"
        if direct in self.pools:
            return direct
        for name, pool in self.pools.items():
            if pool.base.symbol == asset:
                return name
        raise KeyError(f"no pool trades {asset}")
