"""Momentum with stop losses: hold the assets whose price rose over the lookback.

Prices are observed each cycle from the chain and kept in the state's parameters store
(`momentum.history`), so the strategy is restart-safe without any side storage.

Its parameters are the ``Parameters`` class below (the README's table lists them).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

from runner.state import State, TradeExecution
from runner.strategy.parameters import Fraction, StrategyParameters, parameter
from runner.strategy.position_manager import PositionManager
from runner.strategy.validation import Int, Range
from runner.universe import Universe

if TYPE_CHECKING:
    from runner.models.pricing import PricingModel

Below = Annotated[Fraction, Range(gt=Decimal(0), lt=Decimal(1))]


class Parameters(StrategyParameters):
    """When momentum is strong enough to enter, how much to put in, and the exits."""

    lookback: Annotated[Int, Range(ge=1, le=1_000)] = parameter(
        3, "Cycles of price history the rise is measured over.", unit="cycles"
    )
    threshold: Annotated[Fraction, Range(ge=Decimal(0))] = parameter(
        Decimal("0.02"), "Rise over the lookback that opens a position (the same fall closes it).",
        unit="fraction of price",
    )
    allocation: Annotated[Fraction, Range(gt=Decimal(0), le=Decimal(1))] = parameter(
        Decimal("0.3"), "Share of NAV a new position takes.", unit="fraction of NAV"
    )
    stop_loss: Below | None = parameter(
        Decimal("0.1"), "Fall below the entry price that sells (null: no stop loss).", unit="fraction of entry"
    )
    take_profit: Annotated[Fraction, Range(gt=Decimal(0))] | None = parameter(
        None, "Rise above the entry price that sells.", unit="fraction of entry"
    )
    trailing_stop: Below | None = parameter(
        None, "Fall below the highest price since entry that sells.", unit="fraction of peak"
    )


def decide_trades(
    timestamp: datetime,
    universe: Universe,
    state: State,
    pricing: PricingModel,
    parameters: Parameters,
) -> list[TradeExecution]:
    pm = PositionManager(timestamp, universe, state, pricing)
    lookback = parameters.lookback
    threshold = parameters.threshold
    allocation = parameters.allocation
    stop_loss = parameters.stop_loss
    take_profit = parameters.take_profit
    trailing = parameters.trailing_stop
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
