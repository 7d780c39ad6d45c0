"""Buy and hold: invest a share of the NAV in one token at the first cycle, then never trade.

A strategy is a plain module with ``decide_trades`` and a ``Parameters`` class; the
harness imports it by the dotted name a scenario's ``strategy.module`` gives.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from runner.state import State, TradeExecution
from runner.strategy.parameters import Asset, Fraction, StrategyParameters, parameter
from runner.strategy.position_manager import PositionManager
from runner.strategy.validation import Range
from runner.universe import Universe


class Parameters(StrategyParameters):
    """What to hold, and how much of the NAV."""

    asset: Asset = parameter("WETH", "The token to buy at the first cycle and hold.", unit="token")
    allocation: Annotated[Fraction, Range(gt=Decimal(0), le=Decimal(1))] = parameter(
        Decimal("0.5"), "Share of NAV invested at the first cycle.", unit="fraction of NAV"
    )


def decide_trades(timestamp: datetime, universe: Universe, state: State, pricing: Any,
                  parameters: Parameters) -> list[TradeExecution]:
    pm = PositionManager(timestamp, universe, state, pricing)
    pair = universe.pair_for(parameters.asset)
    if pm.position_value(pair) > 0 or state.portfolio.closed_positions:
        return []  # holding (or held once): nothing more to do
    amount = pm.nav() * parameters.allocation
    return [pm.buy(pair, amount)] if amount > 0 else []
