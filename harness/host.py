"""Where the runner lives during a run, and how it dies and comes back.

The engine drives the timeline; a host runs the strategy runner for it and persists
only through the runner's state store, as a deployment would. `InProcessHost` keeps the
runner in the harness's own process: a crash is `SimulatedCrash` raised at the armed
step, and a restart builds a new runner from the state file, which then resumes
(repair, sync, check) exactly as a restarted process does.

Each call returns what happened (`Outcome`) instead of raising, so the engine handles
a dead runner, a failed node and a stopped runner the same way whatever the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.context import CrashSwitch
from harness.errors import ScenarioRuntimeError
from harness.scenario.model import Scenario
from harness.world import World
from runner.accounting import AccountingPolicy
from runner.chain.errors import ChainError
from runner.chain.wallet import Wallet
from runner.errors import RunnerError, SimulatedCrash
from runner.runner import ChainStrategyRunner
from runner.state import (
    MismatchPolicy,
    SegmentedStateStore,
    State,
    TradeExecution,
    UniverseIdentity,
)
from runner.strategy.loader import StrategyLoadError, load_strategy

OVERRIDES = "overrides"  # state.parameters key: set_parameter changes survive restarts


class OutcomeKind(StrEnum):
    ok = "ok"
    crashed = "crashed"  # the runner process died at a step
    node_error = "node_error"  # the node failed past what the runner retries: the process exits
    stopped = "stopped"  # the runner stopped itself with an error (e.g. abort on mismatch)


@dataclass
class Outcome:
    kind: OutcomeKind
    trades: list[TradeExecution] = field(default_factory=list)
    status: str = "ok"
    step: str | None = None  # where it crashed
    error: str | None = None
    error_kind: str | None = None


class InProcessHost:
    """The runner in this process; its state on disk through a segmented store."""

    def __init__(self, scenario: Scenario, world: World, state_path: Path, crash: CrashSwitch) -> None:
        self.scenario = scenario
        self.world = world
        self.crash = crash
        self.store = SegmentedStateStore(state_path, fsync=False)
        reserve = world.universe.reserve
        self.state = State.new(scenario.name, reserve.symbol, scenario.clock.start, reserve.decimals)
        self.state.universe = UniverseIdentity.of(world.universe)  # repair refuses another universe
        self.store.save(self.state)
        self.runner = self._new_runner(self.state)

    def _new_runner(self, state: State) -> ChainStrategyRunner:
        s = self.scenario
        try:
            strategy = load_strategy(s.strategy.module)
        except StrategyLoadError as exc:
            raise ScenarioRuntimeError(s.source.path, None, "strategy.module", str(exc)) from None
        overrides: Mapping[str, Any] = state.parameters.get(OVERRIDES, {})
        acc = s.accounting
        policy = AccountingPolicy(acc.tolerance, acc.relative_tolerance, acc.dust, MismatchPolicy(acc.on_mismatch))
        return ChainStrategyRunner(
            chain=self.world.chain, universe=self.world.universe, strategy=strategy,
            parameters={**s.strategy.parameters, **overrides},
            asset_manager=Wallet.from_label("asset-manager"), accounting_policy=policy,
            step_hook=self.crash, accounting_checks=acc.checks,
        )

    # -- what the engine asks ---------------------------------------------------------
    def tick(self, ts: datetime, cycle: int) -> Outcome:
        self.crash.cycle = cycle
        try:
            details = self.runner.tick(ts, self.world.universe, self.state, {}, cycle=cycle, store=self.store)
        except SimulatedCrash as crash:
            return Outcome(OutcomeKind.crashed, step=crash.step, error=str(crash), error_kind="SimulatedCrash")
        except ChainError as exc:
            return Outcome(OutcomeKind.node_error, error=str(exc), error_kind=type(exc).__name__)
        except RunnerError as exc:
            return Outcome(OutcomeKind.stopped, error=str(exc), error_kind=type(exc).__name__)
        ids = set(details.get("trades", []))
        trades = sorted((t for t in self.state.portfolio.all_trades() if t.trade_id in ids), key=lambda t: t.trade_id)
        return Outcome(OutcomeKind.ok, trades=trades, status=details.get("status", "ok"))

    def trigger_check(self, ts: datetime) -> Outcome:
        try:
            trades = self.runner.check_position_triggers(ts, self.state, self.world.universe)
        except ChainError as exc:
            return Outcome(OutcomeKind.node_error, error=str(exc), error_kind=type(exc).__name__)
        if trades:
            self.store.save(self.state)
        return Outcome(OutcomeKind.ok, trades=trades)

    def abandon(self) -> State:
        """The runner is gone for good: what survives is what its store holds."""
        self.state = self.store.load()
        return self.state

    def restart(self, ts: datetime) -> list[TradeExecution]:
        """A new process from the state file: it resumes (repair, sync, check) and saves.

        Returns the trades repair fixed."""
        self.world.chain.flush()  # the chain goes on without the dead runner
        state = self.store.load()
        self.runner = self._new_runner(state)
        fixed = self.runner.resume(state, ts)
        self.store.save(state)
        self.state = state
        return fixed

    def set_parameter(self, name: str, value: Any) -> None:
        """Effective now and, saved at once, for every process after this one."""
        self.runner.parameters[name] = value
        self.state.parameters.setdefault(OVERRIDES, {})[name] = value
        self.store.save(self.state)


__all__ = ["InProcessHost", "Outcome", "OutcomeKind"]
