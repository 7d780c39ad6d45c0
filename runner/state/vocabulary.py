"""The words the state is written in: defined once, imported by the runner, the scenario
format, expectations, snapshots and reports.

Every vocabulary is a `StrEnum`, so it serialises as its plain value (state files and
snapshots read exactly as before) and compares equal to that string.
"""

from __future__ import annotations

from enum import StrEnum


class PositionState(StrEnum):
    """Where a position stands: open, closed, or open but frozen by a failed trade."""

    open = "open"
    closed = "closed"
    frozen = "frozen"


class TradeSide(StrEnum):
    """Which way a trade moves the position; a repair is a counter entry, neither way."""

    buy = "buy"
    sell = "sell"
    repair = "repair"


class ClosedBy(StrEnum):
    """What closed a position (the trigger names are the trade types that fire them)."""

    stop_loss = "stop_loss"
    take_profit = "take_profit"
    trailing_stop = "trailing_stop"
    strategy = "strategy"
    failed_open = "failed_open"


class CheckKind(StrEnum):
    """When an accounting check ran."""

    start = "start"
    restart = "restart"
    trigger = "trigger"
    post_execution = "post_execution"
    report = "report"


class MismatchPolicy(StrEnum):
    """What the runner does about an accounting mismatch."""

    abort = "abort"
    correct = "correct"
    report = "report"


class CheckAction(StrEnum):
    """What the policy did about a check's outcome."""

    none = "none"
    corrected = "corrected"
    reported = "reported"
    aborted = "aborted"


class CycleKind(StrEnum):
    """Which cycle produced a statistics row."""

    tick = "tick"
    trigger = "trigger"


__all__ = [
    "CheckAction",
    "CheckKind",
    "ClosedBy",
    "CycleKind",
    "MismatchPolicy",
    "PositionState",
    "TradeSide",
]
