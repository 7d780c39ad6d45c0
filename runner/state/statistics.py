"""Per-cycle figures: what the NAV chart, the journal and the reconciliation read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from runner.state.vocabulary import CycleKind


@dataclass
class CycleStatistics:
    cycle: int
    timestamp: datetime
    nav: Decimal
    cash: Decimal
    positions_value: Decimal
    open_positions: int
    trades_succeeded: int = 0
    trades_failed: int = 0
    kind: CycleKind = CycleKind.tick
    status: str = "ok"
    events: list[str] = field(default_factory=list)
