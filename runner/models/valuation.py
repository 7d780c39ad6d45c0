"""Valuation: what each open position would fetch if sold now, after fees and impact."""

from __future__ import annotations

from datetime import datetime

from runner.models.pricing import PricingModel
from runner.state import TradingPosition


class ValuationModel:
    """Values positions at their executable sell price, one batched read for all."""

    def __init__(self, pricing: PricingModel) -> None:
        self.pricing = pricing

    def revalue(self, positions: list[TradingPosition], ts: datetime) -> None:
        if not positions:
            return
        mids = self.pricing.mid_prices([p.asset for p in positions])
        quotes = self.pricing.sell_quotes([(p.asset, p.quantity) for p in positions])
        for pos, quote in zip(positions, quotes, strict=True):
            mid = mids[pos.asset]
            pos.last_price = mid
            # an empty or dust position is valued at mid less the pool fee
            pos.valuation_price = quote.price if quote.amount_out > 0 else mid
            pos.valued_at = ts


def valuation_model_factory(pricing: PricingModel) -> ValuationModel:
    return ValuationModel(pricing)
