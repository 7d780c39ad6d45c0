"""Approval: the last gate between a plan and the chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runner.state import State, TradeExecution

Veto = Callable[[TradeExecution, State], str | None]


class ApprovalModel:
    """Approves everything unless a veto hook returns a reason."""

    def __init__(self, veto: Veto | None = None, name: str = "auto") -> None:
        self.veto = veto
        self.name = name

    def approve(self, state: State, trades: list[TradeExecution]) -> tuple[list[TradeExecution], list[TradeExecution]]:
        """Split trades into (approved, vetoed); a vetoed trade records who and why."""
        approved: list[TradeExecution] = []
        vetoed: list[TradeExecution] = []
        for trade in trades:
            reason = self.veto(trade, state) if self.veto else None
            if reason:
                trade.vetoed_by = f"{self.name}: {reason}"
                vetoed.append(trade)
            else:
                approved.append(trade)
        return approved, vetoed


@dataclass(frozen=True)
class MaxTradeSizeVeto:
    """Veto trades whose planned reserve value exceeds a cap (a common risk rule)."""

    max_reserve: object

    def __call__(self, trade: TradeExecution, state: State) -> str | None:
        if abs(trade.planned_reserve) > self.max_reserve:  # type: ignore[operator]
            return f"trade size {trade.planned_reserve} exceeds cap {self.max_reserve}"
        return None
