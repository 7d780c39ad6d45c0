"""Repair after a crash: resolve every unfinished trade from the chain, exactly once.

For each trade left planned, started or broadcasted:
  - a receipt exists            -> settle it (success or failure) as if confirmed;
  - still in the node's mempool -> unknown: left as it is until the chain answers;
  - no receipt, not pending     -> it never happened (never broadcast, dropped, or its
                                   nonce was used by another tx): mark it repaired and
                                   book a counter entry restoring the reserve.
Both "pending" and "used by another tx" are the node's answers (the transaction by its
hash, the nonce as mined at the latest block), never a process's memory.
Frozen positions whose holdings match the chain are unfrozen. Running it twice changes
nothing the second time: only unfinished trades are touched, and they end finished.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from runner.models.execution import ExecutionModel
from runner.state import State, TradeExecution, TradeStatus

logger = logging.getLogger(__name__)


@dataclass
class RepairReport:
    settled: list[TradeExecution] = field(default_factory=list)
    repaired: list[TradeExecution] = field(default_factory=list)
    unresolved: list[TradeExecution] = field(default_factory=list)
    unfrozen: list[int] = field(default_factory=list)

    @property
    def fixed(self) -> list[TradeExecution]:
        return sorted(self.settled + self.repaired, key=lambda t: t.trade_id)


def repair_unfinished(state: State, execution: ExecutionModel, ts: datetime,
                      chain_nonce: int, pending: set[bytes]) -> RepairReport:
    report = RepairReport()
    portfolio = state.portfolio
    unfinished = sorted(
        (t for t in portfolio.all_trades() if t.is_unfinished), key=lambda t: t.trade_id
    )
    for trade in unfinished:
        if trade.status == TradeStatus.planned and not trade.blockchain_transactions:
            trade.status = TradeStatus.repaired
            trade.repaired_at = ts
            trade.failure_reason = "planned but never started before the crash"
            logger.warning("repair: trade #%d %s was planned but never started; marked repaired", trade.trade_id, trade.pair)
            report.repaired.append(trade)
            continue
        receipt = execution.lookup(trade)
        if receipt is not None:
            if trade.status == TradeStatus.planned:
                portfolio.start_trade(trade, ts)
            execution.settle(state, trade, receipt, ts)
            trade.notes.append("settled by repair from its receipt")
            logger.info("repair: trade #%d %s settled from its receipt: %s", trade.trade_id, trade.pair, trade.status)
            report.settled.append(trade)
            continue
        tx = trade.blockchain_transactions[-1] if trade.blockchain_transactions else None
        if tx is not None and bytes.fromhex(tx.tx_hash[2:]) in pending:
            logger.info("repair: trade #%d %s still in the mempool; left for the chain to answer", trade.trade_id, trade.pair)
            report.unresolved.append(trade)
            continue
        if tx is None:
            reason = "started but no transaction was signed"
        elif chain_nonce > tx.nonce:
            reason = f"nonce {tx.nonce} was used by another transaction; tx {tx.tx_hash} never mined"
        else:
            reason = f"tx {tx.tx_hash} was never broadcast or was dropped (nonce {tx.nonce} unused)"
        portfolio.repair_trade(trade, ts, reason)
        pos = portfolio.position_of(trade)
        if pos.is_open and not pos.unfinished_trades():
            pos.closed_by = None  # a closing sell that never happened closes nothing
        logger.warning("repair: trade #%d %s never reached the chain (%s); counter entry booked", trade.trade_id, trade.pair, reason)
        report.repaired.append(trade)
    for t in report.fixed:
        if t.trade_id not in state.repaired_trade_ids:
            state.repaired_trade_ids.append(t.trade_id)
    return report
