"""Exit triggers of a position: which one fires at a price, if any.

Checked in order: stop loss, take profit, trailing stop. The trailing stop follows the
highest price seen by trigger checks (the high is part of the position's state, so it
survives restarts).
"""

from __future__ import annotations

from decimal import Decimal

from runner.state import TradeType, TradingPosition


def fired_trigger(position: TradingPosition, price: Decimal) -> TradeType | None:
    """The trigger hit at `price`; updates the trailing high as a side effect."""
    if position.stop_loss is not None and price <= position.stop_loss:
        return TradeType.stop_loss
    if position.take_profit is not None and price >= position.take_profit:
        return TradeType.take_profit
    if position.trailing_stop_pct is not None:
        high = max(position.trailing_high or price, price)
        position.trailing_high = high
        if price <= high * (1 - position.trailing_stop_pct):
            return TradeType.trailing_stop
    return None
