"""The chain audit as plain data: books rebuilt from chain logs, and their comparison rows.

Amounts are Decimals in token units (signed: + into the vault, - out of it); blocks and
log indexes are the chain's own. Nothing here reads a clock: the same chain and ledger
always give the same audit, and `to_document` turns it into JSON-ready data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How one line of the chain's books compares with the ledger."""

    matched = "matched"
    ledger_only = "ledger-only"
    chain_only = "chain-only"
    amount_differs = "amount differs"


STATUS_WORDS = {
    Status.matched: "matched: the chain and the ledger agree to the last unit",
    Status.ledger_only: "ledger only: the ledger books a movement the chain does not have",
    Status.chain_only: "chain only: the chain moved the vault's balance and the ledger has no entry for it",
    Status.amount_differs: "amount differs: both have it, with different amounts",
}


class Cause(StrEnum):
    """Why a balance moved on chain, in the words of the chain's logs."""

    opening = "opening balance"
    deposit = "deposit"
    redemption = "redemption"
    swap_in = "swap: received"
    swap_out = "swap: paid"
    transfer_fee = "transfer fee burned"
    mint = "minted to the vault"
    burn = "burned from the vault"
    transfer_in = "transfer in"
    transfer_out = "transfer out"
    rebase = "rebase"
    interest = "interest"
    rounding = "share rounding"
    shares_minted = "shares minted"
    shares_burned = "shares burned"
    unlogged = "balance change without a log"


@dataclass(frozen=True)
class ChainLine:
    """One movement of one asset in the vault, as the chain shows it.

    `log_index` is None for a movement read from balances rather than from a log (a
    rebase or interest accrual, a rebasing token's share rounding, the opening balance)."""

    line_id: int
    asset: str
    block: int
    timestamp: datetime | None
    tx_hash: str  # 0x-prefixed; "" for the opening balance
    log_index: int | None
    cause: Cause
    amount: Decimal
    event: str  # the log or read behind it: Transfer, Rebase, balanceOf, totalSupply
    counterparty: str  # 0x-prefixed address, "" when none
    note: str = ""


@dataclass
class AssetBook:
    """One asset's independent book: opening balance, every movement, closing balance.

    `read_closing` is the balance read at the last block: the book is complete when it
    equals `opening + inflows - outflows` (an unlogged change would be its own line)."""

    asset: str
    address: str
    decimals: int
    opening: Decimal
    inflows: Decimal
    outflows: Decimal
    closing: Decimal
    read_closing: Decimal
    lines: list[ChainLine]
    ledger_closing: Decimal = Decimal(0)
    difference: Decimal = Decimal(0)  # chain closing - ledger closing
    rows_difference: Decimal = Decimal(0)  # what the comparison rows add up to
    status: Status = Status.matched
    explained_by: str | None = None


@dataclass
class AuditRow:
    """One comparison: chain lines of one asset against one ledger entry (either may be absent)."""

    row_id: int
    asset: str
    kind: str  # deposit | redemption | trade | rebase | interest | correction | repair | transfer | opening | ledger
    block: int | None
    timestamp: datetime | None
    tx_hash: str
    log_index: int | None
    chain_lines: list[int]  # ChainLine.line_id
    chain_cause: str
    chain_amount: Decimal | None  # None: the chain has no such movement
    ledger_ref: str  # "trade #3", "balance update #2", "" when the ledger has none
    ledger_amount: Decimal | None  # None: the ledger has no such entry
    difference: Decimal  # chain - ledger, a missing side counting as 0
    status: Status
    note: str
    explained_by: str | None = None
    trade_id: int | None = None
    balance_update_id: int | None = None
    group: str = ""  # rows of one trade or one deposit share it: "trade #3", "0x..:5"
    corrected_by: int | None = None  # the correction (balance update id) that booked this row's difference

    @property
    def flagged(self) -> bool:
        return self.status != Status.matched


@dataclass(frozen=True)
class ChainEvent:
    """A log (or a movement) by which the chain itself says money moved in or out of the
    vault: a deposit, a redemption, a rebase, interest, or a transfer nobody traded."""

    kind: str  # deposit | redemption | rebase | interest | external
    asset: str
    block: int
    tx_hash: str
    log_index: int | None


@dataclass
class ChainAudit:
    """An auditor's view of the run from chain logs alone, compared with the ledger."""

    vault: str
    first_block: int
    last_block: int
    books: list[AssetBook]
    rows: list[AuditRow]
    events: list[ChainEvent] = field(default_factory=list)  # in chain order
    ignored_logs: dict[str, int] = field(default_factory=dict)  # event name -> count (no balance moved)
    counts: dict[str, int] = field(default_factory=dict)  # Status value -> rows
    unexplained: int = 0  # flagged rows nobody explains
    notes: list[str] = field(default_factory=list)  # what the audit itself could not square

    def flagged_rows(self) -> list[AuditRow]:
        return [r for r in self.rows if r.flagged]


def _iso(ts: datetime) -> str:
    if ts.tzinfo is not None and ts.utcoffset() == UTC.utcoffset(None):
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ts.isoformat()


def to_document(obj: Any) -> Any:
    """JSON-ready data: amounts as exact decimal strings, times as ISO strings."""
    if is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_document(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, AuditRow):
            out["flagged"] = obj.flagged
        return out
    if isinstance(obj, Decimal):
        return "0" if obj == 0 else format(obj, "f")
    if isinstance(obj, datetime):
        return _iso(obj)
    if isinstance(obj, StrEnum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_document(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_document(v) for v in obj]
    return obj


__all__ = ["STATUS_WORDS", "AssetBook", "AuditRow", "Cause", "ChainAudit", "ChainEvent", "ChainLine", "Status",
           "to_document"]
