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

After a reorg (`recheck_after_reorg`) the trades settled from the replaced blocks are
checked against the chain the reorg left. A settled trade is final (the state store
appends it to its history and never rewrites it), so one the new chain did not execute
as booked is reversed, not edited: reversal entries (BalanceUpdates keyed
`reorg:<tx>:<asset>`) give the reserve and the position back what the vanished swap
moved, with the reason. A transaction the node still holds is left: it will be mined
again, and repair never guesses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from runner.models.execution import ExecutionModel
from runner.state import BalanceUpdate, BalanceUpdateCause, State, TradeExecution, TradeStatus

logger = logging.getLogger(__name__)

REORG_KEY = "reorg:"
"""The event-key prefix of a reorg reversal entry: `reorg:<tx hash>:<asset>`."""


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


def reversed_by_reorg(state: State) -> set[str]:
    """The tx hashes whose settled trades a reorg reversal entry took back."""
    return {bu.tx_hash for bu in state.portfolio.balance_updates.values()
            if bu.event_key.startswith(REORG_KEY) and bu.tx_hash is not None}


def recheck_after_reorg(state: State, execution: ExecutionModel, ts: datetime, since_block: int) -> list[BalanceUpdate]:
    """A reorg replaced blocks from `since_block` on (or later): check every trade the
    ledger settled as successful from those blocks against the chain, and reverse what
    the chain no longer holds. Returns the reversal entries booked.

    - its receipt is on the chain with the Swapped amounts booked (in any block): kept;
    - its transaction is in the node's mempool: kept (it will be mined again);
    - otherwise (receipt gone, or the swap now reverts or pays other amounts): reversal
      entries for the difference between what was booked and what the chain holds.
    Each entry is keyed by the trade's transaction, so checking again books nothing.
    """
    portfolio = state.portfolio
    done = reversed_by_reorg(state)
    booked = sorted((t for t in portfolio.all_trades()
                     if t.status == TradeStatus.success and not t.is_repair and t.blockchain_transactions
                     and (t.blockchain_transactions[-1].block_number or 0) >= since_block
                     and t.blockchain_transactions[-1].tx_hash not in done), key=lambda t: t.trade_id)
    if not booked:
        return []
    backend = execution.chain.backend
    hashes = [bytes.fromhex(t.blockchain_transactions[-1].tx_hash[2:]) for t in booked]
    receipts = backend.get_receipts(hashes)
    gone = [h for h, r in zip(hashes, receipts, strict=True) if r is None]
    pending = backend.pending_among(gone) if gone else set()
    universe, reserve = execution.universe, execution.universe.reserve
    out: list[BalanceUpdate] = []
    for trade, tx_hash, receipt in zip(booked, hashes, receipts, strict=True):
        tx = trade.blockchain_transactions[-1]
        if receipt is None and tx_hash in pending:
            logger.info("reorg: trade #%d %s: its tx is back in the mempool; left booked", trade.trade_id, trade.pair)
            continue
        asset = universe.pool(trade.pair).base
        result = execution.swap_result(receipt) if receipt is not None and receipt.success else None
        chain_qty, chain_cash = Decimal(0), Decimal(0)  # what the swap did to the position and the reserve
        if result is not None and trade.is_buy:
            chain_qty, chain_cash = asset.from_units(result.amount_out), -reserve.from_units(result.amount_in)
        elif result is not None:
            chain_qty, chain_cash = -asset.from_units(result.amount_in), reserve.from_units(result.amount_out)
        paid = trade.executed_reserve or Decimal(0)
        qty_fix = chain_qty - (trade.executed_quantity or Decimal(0))
        cash_fix = chain_cash - (-paid if trade.is_buy else paid)
        if qty_fix == 0 and cash_fix == 0:
            continue
        if receipt is None:
            why = f"its receipt (block {tx.block_number}) vanished in a reorg and the node does not hold the tx"
        elif result is None:
            why = f"after a reorg its tx reverts (block {receipt.block_number})"
        else:
            why = f"after a reorg its tx paid other amounts (block {receipt.block_number})"
        logger.warning("reorg: trade #%d %s: %s; reversed: %s %s, %s %s", trade.trade_id, trade.pair, why,
                       qty_fix, asset.symbol, cash_fix, reserve.symbol)
        note = f"trade #{trade.trade_id} {trade.pair} (tx {tx.tx_hash}): {why}"
        block = state.sync.last_block
        if cash_fix:
            old = portfolio.reserve.quantity
            out.append(portfolio.add_balance_update(BalanceUpdate(
                balance_update_id=0, cause=BalanceUpdateCause.correction, asset=reserve.symbol, quantity=cash_fix,
                old_balance=old, new_balance=old + cash_fix, block_number=block, timestamp=ts,
                event_key=f"{REORG_KEY}{tx.tx_hash}:{reserve.symbol}", tx_hash=tx.tx_hash, notes=note), None))
        if qty_fix:
            pos = portfolio.position_of(trade)
            if not pos.is_open:  # a closed position is history: the tokens come back to an open one
                pos = portfolio.open_position_for(trade.pair) or portfolio.open_position(trade.pair, asset.symbol, ts)
            old = pos.quantity
            out.append(portfolio.add_balance_update(BalanceUpdate(
                balance_update_id=0, cause=BalanceUpdateCause.correction, asset=asset.symbol, quantity=qty_fix,
                old_balance=old, new_balance=old + qty_fix, block_number=block, timestamp=ts,
                event_key=f"{REORG_KEY}{tx.tx_hash}:{asset.symbol}", tx_hash=tx.tx_hash, notes=note), pos))
    return out
