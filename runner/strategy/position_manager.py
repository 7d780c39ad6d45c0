"""The helper strategies plan trades with: open, close, adjust, and exit triggers.

It only plans: trades come back as `planned`, priced with the cycle's on-chain quotes;
the runner approves, executes and settles them. What it plans is booked, so its amounts
are exact (runner/money.py): a sell of a whole 24-decimal position of 10,000 tokens is
29 digits, all of them. Trigger levels and a value's quantity at a price are estimates,
in the 28 digits they always had.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from runner.money import books, rounded
from runner.state import State, TradeExecution, TradeType, TradingPosition
from runner.universe import Universe

if TYPE_CHECKING:  # only a type here; importing it pulls in the ABI codec
    from runner.models.pricing import PricingModel


@books
class PositionManager:
    def __init__(
        self,
        timestamp: datetime,
        universe: Universe,
        state: State,
        pricing: PricingModel,
        default_slippage: Decimal = Decimal("0.01"),
    ) -> None:
        self.timestamp = timestamp
        self.universe = universe
        self.state = state
        self.pricing = pricing
        self.default_slippage = default_slippage

    # -- reading -------------------------------------------------------------
    def cash(self) -> Decimal:
        return self.state.portfolio.cash()

    def nav(self) -> Decimal:
        return self.state.portfolio.nav()

    def position(self, pair: str) -> TradingPosition | None:
        return self.state.portfolio.open_position_for(pair)

    def position_value(self, pair: str) -> Decimal:
        pos = self.position(pair)
        return self.state.portfolio.position_value(pos) if pos else Decimal(0)

    def is_frozen(self, pair: str) -> bool:
        pos = self.position(pair)
        return pos is not None and pos.is_frozen

    # -- planning ------------------------------------------------------------
    def _position_for(self, pair: str) -> TradingPosition:
        pos = self.position(pair)
        if pos is None:
            pos = self.state.portfolio.open_position(pair, self.universe.pool(pair).base.symbol, self.timestamp)
        return pos

    def buy(self, pair: str, reserve_amount: Decimal, trade_type: TradeType = TradeType.rebalance) -> TradeExecution:
        """Spend `reserve_amount` of the reserve on the pair's base token."""
        reserve_amount = self.universe.reserve.quantize(reserve_amount)
        asset = self.universe.pool(pair).base
        quote = self.pricing.buy_quote(asset.symbol, reserve_amount)
        pos = self._position_for(pair)
        return self.state.portfolio.create_trade(
            pos, self.timestamp, asset.quantize(quote.amount_out), reserve_amount, quote.price,
            trade_type=trade_type, max_slippage=self.default_slippage,
        )

    def sell(self, pair: str, quantity: Decimal, trade_type: TradeType = TradeType.rebalance) -> TradeExecution:
        """Sell `quantity` of the pair's base token for the reserve."""
        pos = self.position(pair)
        if pos is None:
            raise ValueError(f"no open position in {pair} to sell")
        asset = self.universe.pool(pair).base
        quantity = asset.quantize(min(quantity, pos.quantity))
        quote = self.pricing.sell_quote(asset.symbol, quantity)
        return self.state.portfolio.create_trade(
            pos, self.timestamp, -quantity, self.universe.reserve.quantize(quote.amount_out), quote.price,
            trade_type=trade_type, max_slippage=self.default_slippage,
        )

    def open_position(
        self,
        pair: str,
        value: Decimal,
        stop_loss_pct: Decimal | None = None,
        take_profit_pct: Decimal | None = None,
        trailing_stop_pct: Decimal | None = None,
    ) -> TradeExecution:
        """Buy `value` of reserve into the pair and set exit triggers relative to the price."""
        trade = self.buy(pair, value)
        pos = self.state.portfolio.position_of(trade)
        price = self.pricing.mid_price(pos.asset)
        with rounded():
            pos.stop_loss = price * (1 - stop_loss_pct) if stop_loss_pct else None
            pos.take_profit = price * (1 + take_profit_pct) if take_profit_pct else None
        pos.trailing_stop_pct = trailing_stop_pct
        pos.trailing_high = price if trailing_stop_pct else None
        return trade

    def close_position(self, pair: str, trade_type: TradeType = TradeType.rebalance) -> TradeExecution | None:
        pos = self.position(pair)
        if pos is None or pos.quantity <= 0:
            return None
        return self.sell(pair, pos.quantity, trade_type)

    def adjust_position(self, pair: str, delta_value: Decimal, min_trade: Decimal = Decimal(1)) -> TradeExecution | None:
        """Move the position's value by `delta_value` reserve (+ buy, - sell)."""
        if abs(delta_value) < min_trade:
            return None
        if delta_value > 0:
            return self.buy(pair, delta_value)
        pos = self.position(pair)
        if pos is None or pos.quantity <= 0:
            return None
        price = pos.valuation_price or self.pricing.mid_price(pos.asset)
        if price <= 0:
            return None
        with rounded():
            quantity = min(pos.quantity, -delta_value / price)
        return self.sell(pair, quantity)
