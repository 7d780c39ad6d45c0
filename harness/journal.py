"""The per-instant journal of a run: what a developer reads first when a scenario fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from runner.state import TradeExecution


@dataclass
class JournalEntry:
    at: str
    time: datetime
    kind: str  # tick | trigger | events | crash | error
    nav: Decimal | None = None
    cash: Decimal | None = None
    trades: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    status: str = "ok"


def format_journal_row(e: JournalEntry) -> str:
    nav = f"{e.nav:.2f}" if e.nav is not None else "-"
    cash = f"{e.cash:.2f}" if e.cash is not None else "-"
    what = "; ".join([*e.events, *e.trades]) or ""
    return f"{e.time:%Y-%m-%d %H:%M} {e.kind:<8} {nav:>14} {cash:>14}  {e.status:<10} {what}"


JOURNAL_HEADER = f"{'time':<16} {'kind':<8} {'NAV':>14} {'cash':>14}  {'status':<10} trades / events"


def describe_trade(t: TradeExecution) -> str:
    """One trade as a journal line: id, type, side, pair, amount, status (and why)."""
    qty = t.executed_quantity if t.executed_quantity is not None else t.planned_quantity
    extra = f" ({t.failure_reason})" if t.failure_reason else ""
    return f"#{t.trade_id} {t.trade_type.value} {t.side} {t.pair} {abs(qty)} {t.status.value}{extra}"
