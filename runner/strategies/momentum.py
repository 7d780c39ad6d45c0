"""Momentum with stop losses: hold the assets whose price rose over the lookback.

Prices are observed each cycle from the chain and kept in the state's parameters store
(`momentum.history`), so the strategy is restart-safe without any side storage.

parameters:
  lookback: cycles of history to compare against (default 3)
  threshold: minimum rise over the lookback to enter (default 0.02)
  allocation: fraction of NAV per position (default 0.3)
  stop_loss: fraction below entry that triggers a stop (default 0.1)
  take_profit: fraction above entry that takes profit (default none)
  trailing_stop: trailing stop fraction (default none)
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from runner.models.pricing import PricingModel
from runner.state import State, TradeExecution
from runner.strategy.position_manager import PositionManager
from runner.universe import Universe


def _opt(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def decide_trades(
    timestamp: datetime,
    universe: Universe,
    state: State,
    pricing: PricingModel,
    parameters: dict[str, Any],
) -> list[TradeExecution]:
    pm = PositionManager(timestamp, universe, state, pricing)
    lookback = int(parameters.get("lookback", 3))
    threshold = Decimal(str(parameters.get("threshold", "0.02")))
    allocation = Decimal(str(parameters.get("allocation", "0.3")))
    stop_loss = _opt(parameters.get("stop_loss", "0.1"))
    take_profit = _opt(parameters.get("take_profit"))
    trailing = _opt(parameters.get("trailing_stop"))
    assets = universe.tradeable_assets()
    prices = pricing.mid_prices(assets)
    history: dict[str, list[str]] = state.parameters.setdefault("momentum.history", {})  # type: ignore[assignment]
    trades: list[TradeExecution] = []
    for asset in assets:
        series = history.setdefault(asset, [])
        series.append(str(prices[asset]))
        del series[: max(0, len(series) - (lookback + 1))]
        pair = universe.pair_for(asset)
        if pm.is_frozen(pair):
            continue
        pos = pm.position(pair)
        if len(series) <= lookback:
            continue
        past = Decimal(series[0])
        change = (prices[asset] - past) / past if past else Decimal(0)
        if pos is None or pos.quantity == 0:
            if change >= threshold:
                value = min(pm.nav() * allocation, pm.cash())
                if value >= 1:
                    trades.append(pm.open_position(pair, value, stop_loss, take_profit, trailing))
        elif change <= -threshold:
            trade = pm.close_position(pair)
            if trade:
                trades.append(trade)
    return trades
