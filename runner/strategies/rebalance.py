"""Equal-weight (or given-weight) rebalancer over the universe's tokens.

Each cycle: target value per asset = weight x (NAV x invested share); trade the
difference when it exceeds the tolerance band. Sells are planned before buys so the
cash they free can be spent in the same cycle.

Its parameters are the ``Parameters`` class below (the README's table lists them).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from runner.money import exact, total
from runner.state import State, TradeExecution
from runner.strategy.parameters import Asset, Fraction, StrategyParameters, parameter
from runner.strategy.position_manager import PositionManager
from runner.strategy.validation import Amount, Problem, Range, format_percent
from runner.universe import Universe

if TYPE_CHECKING:
    from runner.models.pricing import PricingModel

Weight = Annotated[Fraction, Range(ge=Decimal(0), le=Decimal(1))]


class Parameters(StrategyParameters):
    """The rebalancer's knobs: where the NAV should sit, and when drift is worth a trade."""

    weights: dict[Asset, Weight] | None = parameter(
        None,
        "Target share of the invested NAV per token; tokens left out are sold.",
        unit="fraction per token",
        shown_default="equal over every non-reserve token",
    )
    cash_buffer: Annotated[Fraction, Range(ge=Decimal(0), lt=Decimal(1))] = parameter(
        Decimal("0.02"), "Share of NAV kept in the reserve currency.", unit="fraction of NAV"
    )
    tolerance: Annotated[Fraction, Range(ge=Decimal(0))] = parameter(
        Decimal("0.02"), "Drift from a target, relative to it, that triggers a trade.", unit="fraction of target"
    )
    min_trade: Annotated[Amount, Range(ge=Decimal(0))] = parameter(
        Decimal(1), "Smallest trade worth a swap.", unit="reserve units"
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        """More than the whole invested NAV cannot be allocated."""
        total = sum((self.weights or {}).values(), Decimal(0))
        if total > 1:
            yield Problem(("weights",), "weights summing to at most 100%", f"weights summing to {format_percent(total)}")


def decide_trades(
    timestamp: datetime,
    universe: Universe,
    state: State,
    pricing: PricingModel,
    parameters: Parameters,
) -> list[TradeExecution]:
    pm = PositionManager(timestamp, universe, state, pricing)
    assets = list(parameters.weights) if parameters.weights else universe.tradeable_assets()
    weights = dict(parameters.weights) if parameters.weights else {a: Decimal(1) / len(assets) for a in assets}
    buffer = parameters.cash_buffer
    tolerance = parameters.tolerance
    min_trade = parameters.min_trade
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
    # What the buys may spend, exactly (runner/money.py): rounded up, it could plan a buy
    # of more than the reserve holds (an 18-decimal reserve's 10**10 units are 29 digits).
    cash = total([pm.cash(), *(t.planned_reserve for t in sells)])
    buy_trades: list[TradeExecution] = []
    for pair, delta in buys:
        amount = min(delta, cash)
        trade = pm.adjust_position(pair, amount, min_trade)
        if trade:
            with exact():
                cash -= trade.planned_reserve
            buy_trades.append(trade)
    return sells + buy_trades
