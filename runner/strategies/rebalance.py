"""Equal-weight (or given-weight) rebalancer over the universe's tokens.

Each cycle: target value per asset = weight x (NAV x invested share); trade the
difference when it exceeds the tolerance band. Sells are planned before buys so the
cash they free can be spent in the same cycle.

parameters:
  weights: {SYMBOL: fraction}        default: equal over every non-reserve token
  cash_buffer: fraction of NAV kept in reserve (default 0.02)
  tolerance: relative drift that triggers a trade (default 0.02)
  min_trade: smallest trade in reserve units (default 1)
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from runner.models.pricing import PricingModel
from runner.state import State, TradeExecution
from runner.strategy.position_manager import PositionManager
from runner.universe import Universe


def _dec(value: Any, default: str) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(default)


def decide_trades(
    timestamp: datetime,
    universe: Universe,
    state: State,
    pricing: PricingModel,
    parameters: dict[str, Any],
) -> list[TradeExecution]:
    pm = PositionManager(timestamp, universe, state, pricing)
    weights_param = parameters.get("weights")
    assets = list(weights_param) if weights_param else universe.tradeable_assets()
    weights = {a: _dec(weights_param[a], "0") for a in assets} if weights_param else {
        a: Decimal(1) / len(assets) for a in assets
    }
    buffer = _dec(parameters.get("cash_buffer"), "0.02")
    tolerance = _dec(parameters.get("tolerance"), "0.02")
    min_trade = _dec(parameters.get("min_trade"), "1")
    investable = pm.nav() * (1 - buffer)
    if investable <= 0:
        return []
    sells: list[TradeExecution] = []
    buys: list[tuple[str, Decimal]] = []
    for asset in assets:
        pair = universe.pair_for(asset)
        if pm.is_frozen(pair):
            continue
        target = investable * weights[asset]
        current = pm.position_value(pair)
        if target == 0:
            if current < min_trade:
                continue  # dust: not worth a swap (and possibly not even on chain)
            closing = pm.close_position(pair)
            if closing:
                sells.append(closing)
            continue
        delta = target - current
        if target > 0 and abs(delta) / target < tolerance:
            continue
        if delta < 0:
            trade = pm.adjust_position(pair, delta, min_trade)
            if trade:
                sells.append(trade)
        elif delta > 0:
            buys.append((pair, delta))
    cash = pm.cash() + sum((t.planned_reserve for t in sells), Decimal(0))
    buy_trades: list[TradeExecution] = []
    for pair, delta in buys:
        amount = min(delta, cash)
        trade = pm.adjust_position(pair, amount, min_trade)
        if trade:
            cash -= trade.planned_reserve
            buy_trades.append(trade)
    return sells + buy_trades
