"""Repair after a crash: resolve every unfinished trade from the chain, exactly once.

For each trade left planned, started or broadcasted:
  - a receipt exists            -> settle it (success or failure) as if confirmed;
  - still in the node's mempool -> unknown: left as it is until the chain answers;
  - no receipt, not pending     -> it never happened (never broadcast, dropped, or its
                                   nonce was used by another tx): mark it repaired and
                                   book a counter entry restoring the reserve.
Both "pending" and "used by another tx" are the node's answers (the transaction by its
hash, the nonce as mined at the latest block), never a process's memory.
Frozen positions whose holdings match the chain are unfrozen (the runner's
`unfreeze_matching`; after a restart or a tick's repair, once the sync and the accounting
check have brought the books to the chain's head, never between repair and sync, where a
rebase not booked yet would keep a matching position frozen for the next repair to free).
Running it twice changes nothing the second time: only unfinished trades are touched,
and they end finished; a position left frozen on synced books stays frozen.

After a reorg (`recheck_after_reorg`) the trades settled from the replaced blocks are
checked against the chain the reorg left. A settled trade is final (the state store
appends it to its history and never rewrites it), so one the new chain did not execute
as booked is reversed, not edited: reversal entries (BalanceUpdates keyed
`reorg:<tx>:<asset>`) give the reserve and the position back what the vanished swap
moved, with the reason. A transaction the node still holds is left: it will be mined
again, and repair never guesses.

The synced events (vault deposits and redemptions, an async vault's settlements, rebases
and interest) are booked from their logs, keyed `0x<tx>:<log index>`: one a reorg removed
is reversed the same way (`reverse_vanished_events`, called by the sync when it notices
a reorg), by an entry keyed `reorg:<tx>:<log index>`. The transaction may be mined again
in the new chain: at another log index it is a new event, booked by the sync as any
other; at the same one, the sync books it again (`rebook_event`) by `reorg:<tx>:<log
index>:2`, and a further reorg's reversal is `...:3`, and so on: an event's entries
alternate, so it counts once while the chain holds it and not at all while it does not.

What a reversal or a repair books is added up exactly (runner/money.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from runner.models.execution import ExecutionModel
from runner.money import books
from runner.state import BalanceUpdate, BalanceUpdateCause, State, TradeExecution, TradeStatus
from runner.universe import Universe

logger = logging.getLogger(__name__)

REORG_KEY = "reorg:"
"""The event-key prefix of a reorg reversal entry: `reorg:<tx hash>:<asset>`."""


@dataclass
class RepairReport:
    settled: list[TradeExecution] = field(default_factory=list)
    repaired: list[TradeExecution] = field(default_factory=list)
    unresolved: list[TradeExecution] = field(default_factory=list)
    unfrozen: list[int] = field(default_factory=list)
    fulfilment: str | None = None  # what became of a pending redemption payment, in words

    @property
    def fixed(self) -> list[TradeExecution]:
        return sorted(self.settled + self.repaired, key=lambda t: t.trade_id)


@books
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


EVENT_CAUSES = (BalanceUpdateCause.deposit, BalanceUpdateCause.redemption, BalanceUpdateCause.rebase,
                BalanceUpdateCause.interest)
"""The causes booked from a log (keyed `0x<tx>:<log index>`) that a reorg can remove."""


def reorged_event(key: str) -> str | None:
    """The event key (`0x<tx>:<log index>`) a reorg entry of a synced event is about;
    None for anything else (a trade's reversal is `reorg:<tx>:<asset symbol>`)."""
    if not key.startswith(REORG_KEY):
        return None
    parts = key[len(REORG_KEY):].split(":")
    return f"{parts[0]}:{parts[1]}" if len(parts) >= 2 and parts[1].isdigit() else None


def reorg_entries(state: State) -> dict[str, list[BalanceUpdate]]:
    """Per synced event key, the reorg entries booked for it, in booking order: odd in
    number while the event is reversed, even while it counts."""
    out: dict[str, list[BalanceUpdate]] = {}
    for bu in sorted(state.portfolio.balance_updates.values(), key=lambda b: b.balance_update_id):
        event = reorged_event(bu.event_key)
        if event is not None:
            out.setdefault(event, []).append(bu)
    return out


def _entry_key(event: str, n: int) -> str:
    return f"{REORG_KEY}{event}" if n == 1 else f"{REORG_KEY}{event}:{n}"


@books
def signed_shares(bu: BalanceUpdate) -> Decimal:
    """The share supply change an entry books (a redemption's shares are burned)."""
    if bu.shares is None:
        return Decimal(0)
    return -bu.shares if bu.cause == BalanceUpdateCause.redemption else bu.shares


@books
def reverse_vanished_events(state: State, universe: Universe, on_chain: set[str], since_block: int, block: int,
                            ts: datetime) -> list[BalanceUpdate]:
    """A reorg replaced blocks from `since_block` on: every synced event counted from
    those blocks whose log the chain no longer has (`on_chain`: the keys of the logs the
    sync read from `since_block` to its head) is reversed by a correction entry that
    gives back what it booked (the reserve and the share supply of a deposit or
    redemption, the position's tokens of a rebase). Returns the entries booked; booking
    them again books nothing (an event already reversed is left)."""
    portfolio = state.portfolio
    entries = reorg_entries(state)
    out: list[BalanceUpdate] = []
    for bu in sorted(portfolio.balance_updates.values(), key=lambda b: b.balance_update_id):
        if bu.cause not in EVENT_CAUSES or bu.event_key in on_chain:
            continue
        done = entries.get(bu.event_key, [])
        if len(done) % 2:
            continue  # reversed, and not on the chain again since
        last_block = done[-1].block_number if done else bu.block_number  # where the chain had it last
        if last_block < since_block:
            continue
        qty = -(bu.quantity + sum((e.quantity for e in done), Decimal(0)))
        shares = -(signed_shares(bu) + sum((signed_shares(e) for e in done), Decimal(0)))
        if qty == 0 and shares == 0:
            continue
        pos = None
        if bu.position_id is not None:  # a rebase or interest: the tokens leave the position again
            pos = portfolio.open_positions.get(bu.position_id)
            if pos is None:
                pair = universe.pair_for(bu.asset)
                pos = portfolio.open_position_for(pair) or portfolio.open_position(pair, bu.asset, ts)
        old = pos.quantity if pos is not None else portfolio.reserve.quantity
        why = (f"{bu.cause.value} {bu.event_key} (block {last_block}) vanished in a reorg: the chain no longer "
               "has its log")
        logger.warning("reorg: %s; reversed: %s %s%s", why, qty, bu.asset, f", {shares} shares" if shares else "")
        out.append(portfolio.add_balance_update(BalanceUpdate(
            balance_update_id=0, cause=BalanceUpdateCause.correction, asset=bu.asset, quantity=qty,
            old_balance=old, new_balance=old + qty, block_number=block, timestamp=ts,
            event_key=_entry_key(bu.event_key, len(done) + 1), tx_hash=bu.tx_hash, owner=bu.owner,
            shares=shares if bu.shares is not None else None, notes=why), pos))
        entries.setdefault(bu.event_key, []).append(out[-1])
    return out


def rebook_event(update: BalanceUpdate, done: list[BalanceUpdate]) -> BalanceUpdate:
    """`update` is what the sync books for a log it booked before and a reorg reversed
    since (`done`: that event's reorg entries, odd in number): the chain holds the event
    again, so it counts again, as the entry `reorg:<key>:<n>`."""
    event = update.event_key
    update.event_key = _entry_key(event, len(done) + 1)
    update.shares = signed_shares(update) if update.shares is not None else None
    update.cause = BalanceUpdateCause.correction
    update.notes = (f"{event} is on the chain again (block {update.block_number}) after a reorg reversed it: "
                    "booked again" + (f"; {update.notes}" if update.notes else ""))
    logger.warning("reorg: %s", update.notes)
    done.append(update)
    return update


def reversed_by_reorg(state: State) -> set[str]:
    """The tx hashes whose settled trades a reorg reversal entry took back."""
    return {bu.tx_hash for bu in state.portfolio.balance_updates.values()
            if bu.event_key.startswith(REORG_KEY) and bu.tx_hash is not None and reorged_event(bu.event_key) is None}


@books
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
