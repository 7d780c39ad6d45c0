"""Positions: the reserve and each trading position's token holdings (their methods run
in the exact context, runner/money.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from runner.money import books, floor, rounded
from runner.state.trade import TradeExecution, TradeStatus
from runner.state.vocabulary import ClosedBy, PositionState


@books
@dataclass
class ReservePosition:
    """Cash in the reserve token, in token units."""

    asset: str
    quantity: Decimal = Decimal(0)
    decimals: int = 18
    last_updated_at: datetime | None = None

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


@books
@dataclass
class TradingPosition:
    """Holdings of one base token against the reserve, across its trades.

    `quantity` is maintained on every settlement and balance update (recomputing it from
    history each access would make long runs quadratic); `recomputed_quantity()` is the
    cross-check the accounting tests use.
    """

    position_id: int
    pair: str
    asset: str
    opened_at: datetime
    quantity: Decimal = Decimal(0)
    trades: dict[int, TradeExecution] = field(default_factory=dict)
    balance_update_ids: list[int] = field(default_factory=list)
    balance_update_total: Decimal = Decimal(0)
    closed_at: datetime | None = None
    frozen_at: datetime | None = None
    frozen_reason: str | None = None
    closed_by: ClosedBy | None = None
    last_price: Decimal | None = None
    valuation_price: Decimal | None = None
    valued_at: datetime | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop_pct: Decimal | None = None
    trailing_high: Decimal | None = None
    cost_basis: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    @property
    def state(self) -> PositionState:
        """Frozen wins over open: a frozen position is open but must not be traded."""
        if self.is_frozen:
            return PositionState.frozen
        return PositionState.open if self.is_open else PositionState.closed

    def value_in(self, unit: Decimal) -> Decimal:
        """What the holdings would fetch if sold now (valuation price, after fees),
        rounded down to the reserve's smallest unit: value is never overstated.

        The product is an estimate, in 28 digits: the valuation price is a quote's
        proceeds divided by the quantity, rounded, so the exact product lands a hair
        below the proceeds about half the time, and rounded down that is one unit less
        than the quote pays. The 28 digits give the proceeds back, as they always did."""
        if self.valuation_price is None:
            return Decimal(0)
        with rounded():
            value = self.quantity * self.valuation_price
        return floor(value, unit)

    def recomputed_quantity(self) -> Decimal:
        traded = sum(
            (t.executed_quantity or Decimal(0) for t in self.trades.values() if t.status == TradeStatus.success),
            Decimal(0),
        )
        return traded + self.balance_update_total

    def unfinished_trades(self) -> list[TradeExecution]:
        return [t for t in self.trades.values() if t.is_unfinished]

    def has_triggers(self) -> bool:
        return self.stop_loss is not None or self.take_profit is not None or self.trailing_stop_pct is not None
