"""Plain words for the state's code names: what the report prints instead of identifiers.

Every vocabulary of the state has an entry for each of its values (a test holds them to
the enums), so an auditor never reads `post_execution` or `failed_open`.
"""

from __future__ import annotations

from harness.audit.model import Status

CHECK_KIND = {
    "start": "start of a cycle",
    "restart": "after a restart",
    "trigger": "before a trigger's sell",
    "post_execution": "after the cycle's trades",
    "report": "for a report",
}

CHECK_ACTION = {
    "none": "none",
    "corrected": "corrected",
    "reported": "reported, run continues",
    "aborted": "run stopped",
}

POLICY = {
    "abort": "stop the run",
    "correct": "book a correction",
    "report": "report and continue",
}

VERDICT = {
    "ok": "ok",
    "dust": "dust (below the dust threshold)",
    "mismatch": "mismatch",
}

TRADE_TYPE = {
    "rebalance": "rebalance",
    "stop_loss": "stop loss",
    "take_profit": "take profit",
    "trailing_stop": "trailing stop",
    "repair": "repair counter entry",
}

TRADE_STATUS = {
    "planned": "planned, never started",
    "started": "started, not sent",
    "broadcasted": "sent, not confirmed",
    "success": "success",
    "failed": "failed",
    "repaired": "repaired after a restart",
}

SIDE = {"buy": "buy", "sell": "sell", "repair": "repair"}

POSITION_STATE = {"open": "open", "closed": "closed", "frozen": "frozen (a trade failed)"}

CLOSED_BY = {
    "stop_loss": "stop loss",
    "take_profit": "take profit",
    "trailing_stop": "trailing stop",
    "strategy": "the strategy",
    "failed_open": "its opening trade failed",
}

CAUSE = {
    "deposit": "deposit",
    "redemption": "redemption (withdrawal)",
    "interest": "interest",
    "rebase": "rebase",
    "correction": "correction",
}

CYCLE_KIND = {"tick": "cycle", "trigger": "trigger check"}

AUDIT_KIND = {
    "opening": "opening balance",
    "deposit": "deposit",
    "redemption": "redemption",
    "rebase": "rebase",
    "interest": "interest",
    "trade": "trade",
    "external": "movement behind the runner's back",
    "rounding": "share rounding",
    "repair": "repair counter entry",
    "ledger": "ledger only",
    "correction": "correction",
    "unlogged": "balance change without a log",
    "swap": "swap with no trade",
}

STATUS = {s.value: s.value for s in Status}


def word(table: dict[str, str], value: object) -> str:
    """The plain word for `value` (its own text if the table does not know it)."""
    text = str(getattr(value, "value", value))
    return table.get(text, text.replace("_", " "))


__all__ = ["AUDIT_KIND", "CAUSE", "CHECK_ACTION", "CHECK_KIND", "CLOSED_BY", "CYCLE_KIND", "POLICY",
           "POSITION_STATE", "SIDE", "STATUS", "TRADE_STATUS", "TRADE_TYPE", "VERDICT", "word"]
