"""The ledger as CSV: one row per movement, amounts as exact decimal strings."""

from __future__ import annotations

import csv
import io

from harness.report.model import LedgerRow, iso, plain

COLUMNS = (
    "time", "block", "kind", "cause", "asset", "quantity", "reserve_amount", "position_id",
    "trade_id", "balance_update_id", "repaired_trade_id", "tx_hash", "event_key", "notes",
)


def _opt(v: int | None) -> str:
    return "" if v is None else str(v)


def render_ledger_csv(rows: list[LedgerRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([
            iso(r.time), _opt(r.block_number), r.kind, r.cause, r.asset, plain(r.quantity),
            plain(r.reserve_amount), _opt(r.position_id), _opt(r.trade_id),
            _opt(r.balance_update_id), _opt(r.repaired_trade_id), r.tx_hash, r.event_key, r.notes,
        ])
    return buf.getvalue()
