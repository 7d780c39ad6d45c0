"""The seed API of a strategy runner, as an abstract base.

`StrategyRunner` holds the constructor arguments of the live-trading runner this project
reimplements and the hooks with default behaviour; `runner.runner.ChainStrategyRunner`
is the concrete runner.

Two seed arguments are not kept, because nothing here could honour them: `unit_testing`
(the `execution_context` says which mode a run is in) and `trade_settle_wait` (blocks
are sealed explicitly, so a receipt exists as soon as its block does; a transaction
still pending is left broadcasted and resolved by the next cycle's repair). The routing
model comes ready or from `routing_model_factory`, built once per universe by the
concrete runner.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any

from runner.models.approval import ApprovalModel
from runner.models.context import ExecutionContext
from runner.models.execution import ExecutionModel
from runner.models.pricing import PricingModel
from runner.models.routing import RoutingModel
from runner.models.sync import VaultSyncModel
from runner.models.valuation import ValuationModel
from runner.run_state import RunState
from runner.state import State, TradeExecution
from runner.timing import TimedTask
from runner.universe import Universe


class StrategyRunner(ABC):
    """A base class for a strategy executor (the seed API)."""

    def __init__(
        self,
        timed_task_context_manager: TimedTask,
        execution_model: ExecutionModel,
        approval_model: ApprovalModel,
        valuation_model_factory: Callable[[PricingModel], ValuationModel],
        sync_model: VaultSyncModel,
        pricing_model_factory: Callable[..., PricingModel],
        execution_context: ExecutionContext,
        routing_model: RoutingModel,
        run_state: RunState | None = None,
        accounting_checks: bool = False,
    ) -> None:
        self.timed_task_context_manager = timed_task_context_manager
        self.execution_model = execution_model
        self.approval_model = approval_model
        self.valuation_model_factory = valuation_model_factory
        self.sync_model = sync_model
        self.pricing_model_factory = pricing_model_factory
        self.execution_context = execution_context
        self.routing_model = routing_model
        self.run_state = run_state or RunState()
        self.accounting_checks = accounting_checks

    @abstractmethod
    def pretick_check(self, ts: datetime, universe: Universe) -> None: ...

    def is_progress_report_needed(self) -> bool:
        """Log progress only for live runs (simulations stay quiet for speed)."""
        return self.execution_context.mode == "live"

    def refresh_visualisations(self, state: State, universe: Universe) -> None:
        last = state.stats[-1] if state.stats else None
        lines = [f"{state.name}: cycle {state.cycle}"]
        if last is not None:
            lines.append(f"NAV {last.nav} cash {last.cash} positions {last.positions_value}")
        for pos in state.portfolio.open_positions.values():
            lines.append(f"  #{pos.position_id} {pos.pair} qty {pos.quantity} value {state.portfolio.position_value(pos)}")
        self.run_state.visualisation_text = "\n".join(lines)

    # Report hooks: no-ops the concrete runner or a subclass can fill.
    def report_after_sync_and_revaluation(self, clock: datetime, universe: Universe, state: State, debug_details: dict[str, Any]) -> None:
        debug_details["nav_after_revaluation"] = state.portfolio.nav()

    def report_before_execution(self, clock: datetime, universe: Universe, state: State, trades: list[TradeExecution], debug_details: dict[str, Any]) -> None:
        debug_details["planned_trades"] = [t.trade_id for t in trades]

    def report_after_execution(self, clock: datetime, universe: Universe, state: State, debug_details: dict[str, Any]) -> None:
        debug_details["nav_after_execution"] = state.portfolio.nav()

    def report_strategy_thinking(self, strategy_cycle_timestamp: datetime, cycle: int, universe: Universe,
                                 state: State, trades: list[TradeExecution], debug_details: dict[str, Any]) -> None:
        self.run_state.last_trades = [t.trade_id for t in trades]
