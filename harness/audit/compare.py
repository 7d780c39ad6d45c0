"""The chain's books against the ledger, line by line; every line classified.

The books come from `harness.audit.chain` (chain logs and reads alone); only here is the
runner's state read, to compare with them:

* a balance update keyed by a log (`0x<tx>:<log index>`) is matched with the chain
  entry of that log: a deposit or redemption (the reserve it moved and the shares it
  minted or burned), a rebase or interest accrual (the balance change read around it);
* a trade is matched with the swap of one of its transactions (the vault's Swapped and
  the transfers of that transaction): both legs, reserve and token;
* a correction is matched with the differences the audit has not resolved for that
  asset up to its check's block: the correction books them when the amounts agree;
* whatever is left is chain-only (a movement nobody booked: an airdrop, a drain, a
  rounding) or ledger-only (an entry with no movement on chain: a double booking, a
  trade a reorg removed).

Each row is matched, ledger-only, chain-only or amount-differs. A flagged row is
explained when the runner's own accounting check saw exactly the difference the audit's
unresolved rows add up to at that check's block (or when a correction booked it).

Every amount is added up and compared exactly (runner/money.py's `books`: any rounding
raises), so two amounts that differ at their 29th digit are two amounts.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from harness.audit.chain import ChainBooks, ChainEntry
from harness.audit.model import AuditRow, ChainAudit, Status
from runner import money
from runner.accounting import SHARES
from runner.chain.backend import Backend, Receipt
from runner.repair import REORG_KEY, reorg_entries, reorged_event
from runner.state import BalanceUpdate, BalanceUpdateCause, State, TradeExecution, TradeStatus
from runner.universe import Universe

D0 = Decimal(0)


def _s(d: Decimal) -> str:
    """An amount as an auditor writes it: positional, never 1E-18."""
    return "0" if d == 0 else format(d, "f")
KIND_ORDER = {"opening": 0, "deposit": 1, "redemption": 2, "rebase": 3, "interest": 4, "trade": 5, "external": 6,
              "rounding": 7, "repair": 8, "ledger": 9, "correction": 10, "unlogged": 11}


@dataclass
class _Ledger:
    """One ledger entry and the movement it books, per asset."""

    ref: str
    kind: str
    block: int | None
    amounts: dict[str, Decimal]
    note: str = ""
    trade_id: int | None = None
    balance_update_id: int | None = None
    group: str = ""
    tx_hash: str = ""
    log_index: int | None = None
    zero_asset: str = ""  # the asset a movement-less entry is shown under
    when: datetime | None = None  # when the ledger booked it


@dataclass
class _Draft:
    asset: str
    kind: str
    block: int | None
    tx_hash: str
    log_index: int | None
    entry: ChainEntry | None
    ledger: _Ledger | None
    chain_amount: Decimal | None
    ledger_amount: Decimal | None
    note: str
    group: str
    resolved: bool = False
    owed: Decimal | None = None  # a correction: what the rows it should book add up to
    resolves: list[_Draft] = field(default_factory=list)  # a correction: the rows it books
    disagreements: list[str] = field(default_factory=list)  # checks that measured something else
    corrected_by: int | None = None
    explained_by: str | None = None
    extra: list[str] = field(default_factory=list)


def _signed_shares(bu: BalanceUpdate) -> Decimal | None:
    if bu.shares is None:
        return None
    return -bu.shares if bu.cause == BalanceUpdateCause.redemption else bu.shares


def _trade_amounts(t: TradeExecution, asset: str, reserve: str) -> dict[str, Decimal]:
    if t.status != TradeStatus.success or t.is_repair:
        return {}
    qty = t.executed_quantity or D0
    paid = t.executed_reserve or D0
    return {asset: qty, reserve: -paid if t.is_buy else paid}


def _receipt_note(receipt: Receipt | None, first: int, last: int) -> str:
    if receipt is None:
        return "its transaction is not on the chain"
    if receipt.block_number < first or receipt.block_number > last:
        return f"its transaction is in block {receipt.block_number}, outside the audited blocks {first}-{last}"
    if not receipt.success:
        why = receipt.revert_reason or ("out of gas" if receipt.out_of_gas else "no reason given")
        return f"its transaction reverted in block {receipt.block_number} ({why})"
    return f"its transaction was mined in block {receipt.block_number} without a Swapped event"


class _Comparison:
    def __init__(self, books: ChainBooks, state: State, universe: Universe, backend: Backend) -> None:
        self.books = books
        self.state = state
        self.u = universe
        self.backend = backend
        self.reserve = universe.reserve.symbol
        self.claimed: dict[str, str] = {}  # entry key -> ledger ref that claimed it
        self.drafts: list[_Draft] = []
        self.history: dict[str, list[_Ledger]] = defaultdict(list)  # before the run: folded into the opening
        self.notes: list[str] = list(books.notes)

    # -- pairing ---------------------------------------------------------------
    def pair(self, entry: ChainEntry | None, led: _Ledger | None, kind: str, note: str = "") -> None:
        chain = entry.amounts() if entry else {}
        ledger = led.amounts if led else {}
        assets = [a for a in self.asset_order() if a in chain or a in ledger]
        if not assets:
            assets = [led.zero_asset if led and led.zero_asset else self.reserve]
        for asset in assets:
            c = chain.get(asset, D0) if entry else None
            lg = ledger.get(asset, D0) if led else None
            self.drafts.append(_Draft(
                asset=asset, kind=kind,
                block=entry.block if entry else (led.block if led else None),
                tx_hash=entry.tx_hash if entry else (led.tx_hash if led else ""),
                log_index=entry.log_index if entry else (led.log_index if led else None),
                entry=entry, ledger=led, chain_amount=c, ledger_amount=lg, note=note,
                group=led.group if led and led.group else (entry.key if entry else ""),
            ))

    def asset_order(self) -> list[str]:
        return [*self.u.tokens, SHARES]

    def claim(self, key: str, ref: str) -> ChainEntry | None:
        entry = self.books.entries.get(key)
        if entry is None or key in self.claimed:
            return None
        self.claimed[key] = ref
        return entry

    # -- the ledger's entries --------------------------------------------------
    def balance_updates(self) -> None:
        first = self.books.first_block
        for bu in sorted(self.state.portfolio.balance_updates.values(), key=lambda b: b.balance_update_id):
            cause = BalanceUpdateCause(bu.cause)
            if cause == BalanceUpdateCause.correction:
                continue  # paired with the differences it books, check by check (see corrections)
            amounts = {bu.asset: bu.quantity}
            shares = _signed_shares(bu)
            if shares is not None:
                amounts[SHARES] = shares
            led = _Ledger(f"balance update #{bu.balance_update_id}", cause.value, bu.block_number, amounts,
                          balance_update_id=bu.balance_update_id, group=bu.event_key, tx_hash=bu.tx_hash or "",
                          zero_asset=bu.asset, when=bu.timestamp)
            if bu.block_number < first:
                for asset, amount in amounts.items():
                    if amount:
                        self.history[asset].append(led)
                continue
            key = bu.event_key
            entry = self.books.events.get(key)
            if entry is None:
                self.pair(None, led, cause.value,
                          f"the ledger books {cause.value} from {key}, which is no {cause.value} log of the vault "
                          f"or its tokens in blocks {first}-{self.books.last_block}")
                continue
            if key in self.claimed:
                self.pair(None, led, cause.value, f"booked twice: {key} is already booked by {self.claimed[key]}")
                continue
            if entry.kind != cause.value:
                self.pair(None, led, cause.value, f"the ledger books {cause.value} from {key}, a {entry.kind} log")
                continue
            self.claim(key, led.ref)
            note = ""
            if entry.kind in ("rebase", "interest") and not entry.lines:
                note = "the event moved the vault's balance by nothing"
            self.pair(entry, led, cause.value, note)

    def trades(self) -> None:
        first, last = self.books.first_block, self.books.last_block
        trades = sorted(self.state.portfolio.all_trades(), key=lambda t: t.trade_id)
        missing = [t for t in trades if not self._swap_key(t)]
        hashes = sorted({tx.tx_hash for t in missing for tx in t.blockchain_transactions})
        receipts = dict(zip(hashes, self.backend.get_receipts([bytes.fromhex(h[2:]) for h in hashes]), strict=True)) \
            if hashes else {}
        positions = {p.position_id: p for p in self.state.portfolio.all_positions()}
        # Settled trades claim their swaps first: a trade repaired as never sent and the
        # trade that replaced it can carry the same transaction (same nonce, same call).
        for t in sorted(trades, key=lambda t: (t.status != TradeStatus.success, t.trade_id)):
            pos = positions.get(t.position_id)
            asset = pos.asset if pos else t.pair.split("/")[0]
            tx = t.blockchain_transactions[-1] if t.blockchain_transactions else None
            led = _Ledger(f"trade #{t.trade_id}", "trade", tx.block_number if tx else None,
                          _trade_amounts(t, asset, self.reserve), trade_id=t.trade_id, group=f"trade #{t.trade_id}",
                          tx_hash=tx.tx_hash if tx else "", zero_asset=asset,
                          when=t.executed_at or t.failed_at or t.repaired_at)
            if t.is_repair:
                led.kind = "repair"
                self.pair(None, led, "repair", f"counter entry of trade #{t.repaired_trade_id}: returns its capital "
                                               "in flight to the reserve; nothing moves on chain")
                continue
            key = self._swap_key(t)
            if led.block is not None and led.block < first and t.status == TradeStatus.success:
                for a in led.amounts:
                    self.history[a].append(led)
                continue
            status = t.status.value + (f" ({t.failure_reason})" if t.failure_reason else "")
            if key is None:
                why = "; ".join(_receipt_note(receipts.get(x.tx_hash), first, last)
                                + (f" (the ledger says block {x.block_number})" if x.block_number is not None
                                   and receipts.get(x.tx_hash) is None else "")
                                for x in t.blockchain_transactions[-1:]) or "it never had a transaction"
                if t.status == TradeStatus.success:
                    note = f"settled as a success, but no swap of the vault has its transaction: {why}"
                elif t.status == TradeStatus.repaired:
                    note = f"repaired after a restart ({t.failure_reason or 'never reached the chain'}): {why}; " \
                           "nothing moved on either side"
                else:
                    note = f"{status}: {why}; nothing moved on either side"
                self.pair(None, led, "trade", note)
                continue
            if key in self.claimed:
                owner = self.claimed[key]
                if t.status != TradeStatus.success:
                    led.block = self.books.entries[key].block
                    self.pair(None, led, "trade", f"{status}; its transaction is the one {owner} settled (the same "
                                                  "signed bytes were sent again), so it moved nothing of its own")
                else:
                    self.pair(None, led, "trade", f"its swap is already settled by {owner}")
                continue
            entry = self.claim(key, led.ref)
            assert entry is not None
            note = self._swap_note(entry)
            if t.status != TradeStatus.success:
                note = f"the ledger has it {status}, but its transaction swapped on chain: {note}"
            self.pair(entry, led, "trade", note)

    def _swap_key(self, t: TradeExecution) -> str | None:
        for tx in reversed(t.blockchain_transactions):
            key = self.books.swaps_by_tx.get(tx.tx_hash)
            if key is not None:
                return key
        return None

    @staticmethod
    def _swap_note(entry: ChainEntry) -> str:
        d = entry.detail
        return f"Swapped {d.get('amount_in')} {d.get('token_in')} for {d.get('amount_out')} {d.get('token_out')}"

    def closed_leftovers(self) -> None:
        """A closed position whose own movements do not add up to zero: the ledger stops
        counting what is left (an accounting check compares only open positions)."""
        for pos in sorted(self.state.portfolio.closed_positions.values(), key=lambda p: p.position_id):
            left = pos.recomputed_quantity()
            if left == 0:
                continue
            blocks = [tx.block_number for t in pos.trades.values() for tx in t.blockchain_transactions
                      if tx.block_number is not None]
            led = _Ledger(f"position #{pos.position_id}", "ledger", max(blocks) if blocks else None,
                          {pos.asset: -left}, group=f"position #{pos.position_id}")
            self.pair(None, led, "ledger", f"position #{pos.position_id} was closed with {_s(left)} {pos.asset} left in "
                                           "its own records: the ledger's holdings no longer count it")

    def history_rows(self) -> None:
        """The opening balance against what the ledger booked from before the run."""
        for asset in self.asset_order():
            key = f"opening:{asset}"
            entry = self.books.entries.get(key)
            booked = self.history.get(asset, [])
            if entry is None and not booked:
                continue
            if entry is not None:
                self.claim(key, "opening")
            led = None
            if booked:
                total = sum((b.amounts.get(asset, D0) for b in booked), D0)
                led = _Ledger(", ".join(b.ref for b in booked) + " (before the run)", "opening",
                              self.books.first_block - 1, {asset: total}, group=key)
            self.pair(entry, led, "opening",
                      "what the vault held before the run's first block" if entry else
                      "the ledger books movements before the run, but the vault held nothing then")

    def leftovers(self) -> None:
        for key, entry in sorted(self.books.entries.items(), key=lambda kv: (kv[1].block, kv[0])):
            if key in self.claimed or not entry.lines:
                continue
            if entry.kind == "swap":
                note = f"a swap of the vault no trade of the ledger settles: {self._swap_note(entry)}"
            elif entry.kind in ("deposit", "redemption"):
                note = f"the vault's {entry.kind} {key} is not booked"
            elif entry.kind in ("rebase", "interest"):
                note = f"the {entry.kind} changed the vault's balance and the ledger booked nothing"
            elif entry.kind == "unlogged":
                note = entry.lines[0].note
            else:
                line = entry.lines[0]
                note = f"{line.cause.value} {_s(abs(line.amount))} {line.asset}" + (
                    f" ({'from' if line.amount > 0 else 'to'} {line.counterparty})" if line.counterparty else "") + \
                    ": moved behind the runner's back"
            self.pair(entry, None, "external" if entry.kind == "external" else entry.kind, note)

    # -- corrections and the runner's checks -----------------------------------
    def corrections(self) -> None:
        """Check by check: did the runner see what the audit cannot pair, and did its
        corrections book exactly that?"""
        by_check: dict[int, list[BalanceUpdate]] = defaultdict(list)
        orphans: list[BalanceUpdate] = []
        for bu in self.state.portfolio.balance_updates.values():
            if bu.cause != BalanceUpdateCause.correction:
                continue
            parts = bu.event_key.split(":")
            if len(parts) >= 3 and parts[0] == "correction" and parts[1].isdigit():
                by_check[int(parts[1])].append(bu)
            else:
                orphans.append(bu)
        events = reorg_entries(self.state)
        orphans = [bu for bu in orphans if reorged_event(bu.event_key) is None and not self._reorg_reversal(bu)]
        for event, entries in sorted(events.items(), key=lambda kv: kv[1][0].balance_update_id):
            self._reorged_event(event, entries)
        checks = sorted(self.state.accounting_checks, key=lambda c: c.check_id)
        known = {c.check_id for c in checks}
        orphans += [bu for cid, bus in by_check.items() if cid not in known for bu in bus]
        for check in checks:
            if check.block_number < self.books.first_block - 1:
                continue
            pools = self._unresolved(check.block_number, check.timestamp)
            rows = {r.asset: r for r in check.rows}
            for asset in self.asset_order():
                pool = pools.get(asset, [])
                owed = sum((_diff(d) for d in pool), D0)
                row = rows.get(asset)
                measured = row.difference if row is not None else None
                if pool and owed != 0 and measured == owed:
                    action = "corrected" if row is not None and row.correction_id is not None else str(check.action)
                    why = (f"accounting check #{check.check_id} (block {check.block_number}) measured this difference "
                           f"of {asset}: {_s(row.difference) if row else ''}, verdict {row.verdict if row else ''}, "
                           f"action {action}")
                    for d in pool:
                        d.explained_by = d.explained_by or why
                elif pool and owed != 0 and measured is not None and measured != owed:
                    for d in pool:
                        if not d.explained_by:
                            d.disagreements.append(f"accounting check #{check.check_id} (block {check.block_number}) measured "
                                           f"{_s(measured)} for {asset}, not the {_s(owed)} the audit cannot pair")
                elif measured and not pool:
                    self.notes.append(f"accounting check #{check.check_id} (block {check.block_number}) measured "
                                      f"{_s(measured)} for {asset}; the audit finds nothing unpaired then")
            for bu in sorted(by_check.get(check.check_id, []), key=lambda b: b.balance_update_id):
                self._correction(bu, check.check_id, check.block_number, pools.get(bu.asset, []))
        for bu in sorted(orphans, key=lambda b: b.balance_update_id):
            amount = bu.shares if bu.asset == SHARES else bu.quantity
            led = _Ledger(f"balance update #{bu.balance_update_id}", "correction", bu.block_number,
                          {bu.asset: amount or D0}, balance_update_id=bu.balance_update_id, group=bu.event_key,
                          zero_asset=bu.asset)
            self.pair(None, led, "correction", f"a correction no accounting check of the ledger asked for ({bu.event_key})")

    def _reorg_reversal(self, bu: BalanceUpdate) -> bool:
        """A reversal the runner booked after a reorg (`reorg:<tx>:<asset>`) pairs with the
        trade of that transaction: it matches when it books exactly the difference between
        what the chain now holds of that trade's swap and what the ledger settled (the trade
        row, ledger-only or differing, is then explained by it). Anything else stays an
        unasked-for correction. Returns whether it was paired."""
        if not bu.event_key.startswith(REORG_KEY) or bu.tx_hash is None:
            return False
        pool = [d for d in self.drafts if d.kind == "trade" and d.ledger is not None and not d.resolved
                and d.ledger.tx_hash == bu.tx_hash and d.asset == bu.asset and _diff(d) != 0]
        if not pool:
            return False
        owed = sum((_diff(d) for d in pool), D0)
        if owed != bu.quantity:
            return False
        trades = ", ".join(d.ledger.ref for d in pool if d.ledger is not None)
        led = _Ledger(f"balance update #{bu.balance_update_id}", "correction", bu.block_number, {bu.asset: bu.quantity},
                      balance_update_id=bu.balance_update_id, group=bu.event_key, zero_asset=bu.asset, tx_hash=bu.tx_hash)
        before = len(self.drafts)
        self.pair(None, led, "correction", f"reverses {trades} after a reorg: the chain no longer holds what the "
                                           f"ledger settled of its swap ({_s(owed)} {bu.asset})")
        for d in self.drafts[before:]:
            d.resolved, d.owed, d.resolves = True, owed, list(pool)
        for p in pool:
            p.resolved = True
            p.corrected_by = bu.balance_update_id
            p.explained_by = p.explained_by or f"reversed by balance update #{bu.balance_update_id} after a reorg"
            p.extra.append(f"reversed by balance update #{bu.balance_update_id}")
        return True

    def _reorged_event(self, event: str, entries: list[BalanceUpdate]) -> None:
        """The entries the runner booked for a synced event (`0x<tx>:<log index>`) after
        reorgs (`reorg:<event>`, `reorg:<event>:<n>`: reversed when the chain lost its log,
        booked again when the chain had it again) pair with that event's own rows: they
        match when, together, they book exactly what those rows leave unpaired (all of a
        deposit the chain no longer has; nothing for one it mined again as booked).
        Otherwise each is a correction that books something else."""
        pool = [d for d in self.drafts if d.group == event and d.kind != "correction" and d.ledger is not None
                and not d.resolved and _diff(d) != 0]
        owed: dict[str, Decimal] = defaultdict(lambda: D0)
        for d in pool:
            owed[d.asset] += _diff(d)
        booked: dict[str, Decimal] = defaultdict(lambda: D0)
        for bu in entries:
            booked[bu.asset] += bu.quantity
            if bu.shares is not None:
                booked[SHARES] += bu.shares
        exact = all(owed[a] == booked[a] for a in {*owed, *booked})
        refs = ", ".join(f"#{bu.balance_update_id}" for bu in entries)
        for bu in entries:
            others = ", ".join(f"#{e.balance_update_id}" for e in entries if e is not bu)
            amounts = {bu.asset: bu.quantity, **({SHARES: bu.shares} if bu.shares is not None else {})}
            led = _Ledger(f"balance update #{bu.balance_update_id}", "correction", bu.block_number, amounts,
                          balance_update_id=bu.balance_update_id, group=bu.event_key, zero_asset=bu.asset,
                          tx_hash=bu.tx_hash or "")
            before = len(self.drafts)
            if exact:
                note = (f"a reorg entry of {event}" + (f": with {others}" if others else "") + ", it books exactly what the chain's rows of that event "
                        "leave unpaired (" + ", ".join(f"{_s(owed[a])} {a}" for a in sorted({*owed, *booked})) + ")")
            else:
                note = (f"a reorg entry of {event}: {refs} book " + ", ".join(f"{_s(booked[a])} {a}" for a in sorted(booked))
                        + ", the chain's rows of that event leave " +
                        (", ".join(f"{_s(owed[a])} {a}" for a in sorted(owed)) or "nothing") + " unpaired")
            self.pair(None, led, "correction", note)
            for d in self.drafts[before:]:
                d.resolved = True
                d.owed = d.ledger_amount if exact else owed[d.asset]
                if exact and bu is entries[-1]:
                    d.resolves = list(pool)
        if exact:
            for p in pool:
                p.resolved = True
                p.corrected_by = entries[-1].balance_update_id
                p.explained_by = p.explained_by or f"reversed by balance update {refs} after a reorg"
                p.extra.append(f"reversed by balance update {refs}")

    def _unresolved(self, block: int, when: datetime) -> dict[str, list[_Draft]]:
        """Rows not yet paired that a check at `block` (at time `when`) can see: chain
        movements up to its block; ledger entries up to its block, or booked before it
        (a reorg can replace the blocks a ledger entry names with lower-numbered ones)."""
        out: dict[str, list[_Draft]] = defaultdict(list)
        for d in self.drafts:
            if d.resolved or d.kind == "correction" or _diff(d) == 0:
                continue
            seen = d.block is not None and d.block <= block
            if d.entry is None and d.ledger is not None and d.ledger.when is not None:
                seen = seen or d.ledger.when < when
            if seen:
                out[d.asset].append(d)
        return out

    def _correction(self, bu: BalanceUpdate, check_id: int, block: int, pool: list[_Draft]) -> None:
        amount = (bu.shares or D0) if bu.asset == SHARES else bu.quantity
        owed = sum((_diff(d) for d in pool), D0)
        led = _Ledger(f"balance update #{bu.balance_update_id}", "correction", block, {bu.asset: amount},
                      balance_update_id=bu.balance_update_id, group=bu.event_key, zero_asset=bu.asset)
        before = len(self.drafts)
        self.pair(None, led, "correction", "")
        for d in self.drafts[before:]:
            d.resolved = True
            d.owed = owed
            if owed == amount:
                d.note = f"accounting check #{check_id} booked exactly the difference the audit cannot pair for {bu.asset}"
                d.resolves = list(pool)
                for p in pool:
                    p.resolved = True
                    p.corrected_by = bu.balance_update_id
                    p.extra.append(f"corrected by balance update #{bu.balance_update_id}")
            else:
                d.note = (f"accounting check #{check_id} booked {_s(amount)} {bu.asset}; the chain's unpaired movements "
                          f"up to block {block} add up to {_s(owed)}")

    # -- the result ------------------------------------------------------------
    def rows(self) -> list[AuditRow]:
        order = {a: i for i, a in enumerate(self.asset_order())}
        ordered = sorted(self.drafts, key=lambda d: (
            d.block if d.block is not None else 1 << 62,
            d.log_index if d.log_index is not None else 1 << 30,
            KIND_ORDER.get(d.kind, 99), d.group, order.get(d.asset, 99)))
        ids = {id(d): n for n, d in enumerate(ordered, 1)}
        out = []
        for n, d in enumerate(ordered, 1):
            status = _status(d)
            if d.resolves:
                d.extra.insert(0, "rows " + ", ".join(f"#{ids[id(p)]}" for p in d.resolves))
            extra = [*d.extra, *(d.disagreements if not d.explained_by else [])]
            note = "; ".join(x for x in [d.note, *extra] if x)
            lines = [ln.line_id for ln in d.entry.lines if ln.asset == d.asset] if d.entry else []
            causes = sorted({ln.cause.value for ln in d.entry.lines if ln.asset == d.asset}) if d.entry else []
            ts = None
            if d.entry and d.entry.lines:
                ts = d.entry.lines[0].timestamp
            out.append(AuditRow(
                row_id=n, asset=d.asset, kind=d.kind, block=d.block, timestamp=ts, tx_hash=d.tx_hash,
                log_index=d.log_index, chain_lines=lines,
                chain_cause=", ".join(causes) if causes else (
                    f"unpaired differences: {d.owed}" if d.kind == "correction" and d.owed is not None else ""),
                chain_amount=d.chain_amount, ledger_ref=d.ledger.ref if d.ledger else "",
                ledger_amount=d.ledger_amount, difference=_diff(d), status=status, note=note,
                explained_by=d.explained_by if status != Status.matched else None,
                trade_id=d.ledger.trade_id if d.ledger else None,
                balance_update_id=d.ledger.balance_update_id if d.ledger else None, group=d.group,
                corrected_by=d.corrected_by,
            ))
        return out


def _diff(d: _Draft) -> Decimal:
    return (d.chain_amount or D0) - (d.ledger_amount or D0)


def _status(d: _Draft) -> Status:
    if d.kind == "correction":
        # No chain movement of its own: it matches when it books exactly the differences
        # the audit could not pair for its asset up to its check.
        return Status.matched if d.owed is not None and d.owed == d.ledger_amount else (
            Status.amount_differs if d.owed is not None else Status.ledger_only)
    if d.ledger is None:
        return Status.chain_only
    if not d.ledger.amounts:  # an entry that books no movement: a failed or repaired trade
        return Status.matched if d.entry is None or d.chain_amount == 0 else Status.chain_only
    if d.entry is None:
        return Status.matched if (d.ledger_amount or D0) == 0 else Status.ledger_only
    if d.chain_amount == d.ledger_amount:
        return Status.matched
    return Status.amount_differs


@money.books
def ledger_holdings(state: State, universe: Universe) -> dict[str, Decimal]:
    """What the ledger says the vault holds at the end: reserve (with capital in flight),
    open positions, shares booked."""
    p = state.portfolio
    out = {s: D0 for s in universe.tokens}
    out[universe.reserve.symbol] = p.reserve.quantity + p.allocated_to_trades()
    for pos in p.open_positions.values():
        out[pos.asset] = out.get(pos.asset, D0) + pos.quantity
    shares = D0
    for bu in p.balance_updates.values():
        s = _signed_shares(bu)
        if s is not None:
            shares += s
    out[SHARES] = shares
    return out


@money.books
def compare(books: ChainBooks, state: State, universe: Universe, backend: Backend) -> ChainAudit:
    c = _Comparison(books, state, universe, backend)
    c.balance_updates()
    c.trades()
    c.closed_leftovers()
    c.history_rows()
    c.leftovers()
    c.corrections()
    rows = c.rows()
    held = ledger_holdings(state, universe)
    for asset, book in books.books.items():
        book.ledger_closing = held.get(asset, D0)
        book.difference = book.closing - book.ledger_closing
        book.rows_difference = sum((r.difference for r in rows if r.asset == asset), D0)
        book.status = Status.matched if book.difference == 0 else Status.amount_differs
        if book.rows_difference != book.difference:
            c.notes.append(f"{asset}: the chain's closing balance less the ledger's is {_s(book.difference)}, "
                           f"the rows add up to {_s(book.rows_difference)}")
    audit = ChainAudit(
        vault=books.vault, first_block=books.first_block, last_block=books.last_block,
        books=list(books.books.values()), rows=rows, events=books.chain_events, ignored_logs=books.ignored, notes=c.notes,
    )
    recount(audit)
    return audit


@money.books
def recount(audit: ChainAudit) -> None:
    """Counts per class, the unexplained rows, and each book's explanation, from the rows."""
    audit.counts = {s.value: 0 for s in Status}
    for r in audit.rows:
        audit.counts[r.status.value] += 1
    audit.unexplained = sum(1 for r in audit.rows if r.flagged and r.explained_by is None)
    for book in audit.books:
        open_rows = [r for r in audit.rows if r.asset == book.asset and r.flagged and r.difference != 0
                     and r.corrected_by is None and r.kind != "correction"]
        book.explained_by = None
        if book.difference != 0 and book.difference == book.rows_difference and open_rows \
                and all(r.explained_by for r in open_rows):
            book.explained_by = ("flagged rows " + ", ".join(f"#{r.row_id}" for r in open_rows)
                                 + (", each seen by an accounting check" if len(open_rows) > 1
                                    else ", seen by an accounting check"))


_STOP = re.compile(r"accounting check #(\d+) \((\w+)\) at block (\d+)")


@money.books
def explain_stop(audit: ChainAudit, error: str | None) -> ChainAudit:
    """The run stopped on an accounting check (policy abort): the runner stops before it
    saves that check, so the state never has it, but the error carries its table. A
    flagged row it measured exactly (the same sum of unpaired differences per asset up to
    its block) is explained by it. Returns a copy; the audit given is left alone."""
    found = _STOP.search(error or "")
    if found is None:
        return audit
    out = copy.deepcopy(audit)
    check_id, kind, block = int(found.group(1)), found.group(2), int(found.group(3))
    measured: dict[str, tuple[Decimal, str]] = {}
    for line in (error or "")[found.end():].splitlines()[2:]:
        parts = line[14:].split()
        if len(parts) < 4 or parts[3] not in ("mismatch", "dust", "ok"):
            break
        try:
            measured[line[:14].strip()] = (Decimal(parts[2]), parts[3])
        except ArithmeticError:
            break
    for asset, (difference, verdict) in measured.items():
        pool = [r for r in out.rows if r.asset == asset and r.flagged and r.corrected_by is None
                and r.kind != "correction" and r.block is not None and r.block <= block and r.difference != 0]
        if pool and sum((r.difference for r in pool), D0) == difference:
            for r in pool:
                r.explained_by = r.explained_by or (f"accounting check #{check_id} ({kind}, block {block}) measured this difference of "
                                  f"{asset}: {_s(difference)}, verdict {verdict}, and stopped the run (policy abort)")
    recount(out)
    return out


__all__ = ["compare", "explain_stop", "ledger_holdings"]
