"""What the strategy can trade: tokens, pools and the contracts it trades through.

Built once per run from the deployed world (or a fork's addresses) and stable between
ticks; everything here is immutable so routing and pricing can cache on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal


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
        return amount.quantize(self.unit, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Pool:
    """A constant-product pair, named BASE/QUOTE; price is QUOTE per BASE."""

    pair: str
    base: Token
    quote: Token
    address: bytes
    fee: Decimal

    @property
    def fee_bps(self) -> int:
        return int((self.fee * 10_000).to_integral_value())

    @property
    def base_is_token0(self) -> bool:
        return self.base.address.lower() < self.quote.address.lower()


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
