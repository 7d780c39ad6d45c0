"""A trade and its whole lifecycle, from plan to settlement or repair.

    planned -> started -> broadcasted -> success
                                      -> failed
    planned | started | broadcasted   -> repaired   (a crash left it unresolved and the
                                                     chain showed it never happened)

Reserve capital for a buy leaves the reserve when the trade starts and comes back if it
fails or is repaired; token quantities change only on a successful settlement. So a
failed trade never changes holdings, and a repaired one is undone by its counter entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from runner.state.vocabulary import TradeSide


class TradeStatus(StrEnum):
    planned = "planned"
    started = "started"
    broadcasted = "broadcasted"
    success = "success"
    failed = "failed"
    repaired = "repaired"


UNFINISHED = (TradeStatus.planned, TradeStatus.started, TradeStatus.broadcasted)


class TradeType(StrEnum):
    rebalance = "rebalance"
    stop_loss = "stop_loss"
    take_profit = "take_profit"
    trailing_stop = "trailing_stop"
    repair = "repair"


@dataclass
class BlockchainTransaction:
    """One signed transaction a trade sent, as far as the chain has told us."""

    tx_hash: str
    nonce: int
    from_address: str
    to_address: str
    function: str
    gas_limit: int
    broadcast_at: datetime | None = None
    block_number: int | None = None
    status: int | None = None
    gas_used: int | None = None
    revert_reason: str | None = None


@dataclass
class TradeExecution:
    """A planned change of one position, in base-token quantity (+ buy, - sell)."""

    trade_id: int
    position_id: int
    pair: str
    opened_at: datetime
    planned_quantity: Decimal
    planned_reserve: Decimal
    planned_price: Decimal
    trade_type: TradeType = TradeType.rebalance
    status: TradeStatus = TradeStatus.planned
    max_slippage: Decimal = Decimal("0.01")
    route: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    broadcasted_at: datetime | None = None
    executed_at: datetime | None = None
    failed_at: datetime | None = None
    repaired_at: datetime | None = None
    executed_quantity: Decimal | None = None
    executed_reserve: Decimal | None = None
    executed_price: Decimal | None = None
    lp_fees_paid: Decimal | None = None
    slippage: Decimal | None = None
    failure_reason: str | None = None
    vetoed_by: str | None = None
    repaired_trade_id: int | None = None
    repaired_by_trade_id: int | None = None
    blockchain_transactions: list[BlockchainTransaction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def is_buy(self) -> bool:
        return self.planned_quantity > 0

    @property
    def is_sell(self) -> bool:
        return self.planned_quantity < 0

    @property
    def side(self) -> TradeSide:
        """A repair's counter entry moves no tokens: it is neither a buy nor a sell."""
        if self.is_repair:
            return TradeSide.repair
        return TradeSide.buy if self.is_buy else TradeSide.sell

    @property
    def is_unfinished(self) -> bool:
        return self.status in UNFINISHED

    @property
    def is_repair(self) -> bool:
        return self.trade_type == TradeType.repair

    @property
    def reserve_allocated(self) -> Decimal:
        """Reserve capital held by this trade between start and settlement."""
        if self.is_buy and self.status in (TradeStatus.started, TradeStatus.broadcasted):
            return self.planned_reserve
        return Decimal(0)
