"""What a web or chat front-end shows about a running strategy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class RunState:
    latest_cycle: int = 0
    latest_cycle_at: datetime | None = None
    exceptions: list[str] = field(default_factory=list)
    visualisation_text: str = ""
    last_trades: list[int] = field(default_factory=list)
    progress_reports: int = 0
