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
from types import ModuleType
from typing import Any, NoReturn, Protocol

from harness.errors import ScenarioRuntimeError
from harness.scenario.model import Scenario
from harness.world import World
from runner.accounting import AccountingPolicy
from runner.chain.client import ChainClient
from runner.chain.errors import ChainError
from runner.chain.wallet import ImpersonatedWallet, Wallet
from runner.errors import RunnerError, SimulatedCrash
from runner.killpoints import KillSwitch
from runner.runner import ChainStrategyRunner
from runner.state import (
    MismatchPolicy,
    SegmentedStateStore,
    State,
    TradeExecution,
    UniverseIdentity,
)
from runner.steps import Step
from runner.strategy.loader import StrategyLoadError, load_strategy

OVERRIDES = "overrides"  # state.parameters key: set_parameter changes survive restarts
MAX_RESUMES = 4  # a runner that keeps dying while it resumes is a scenario error


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


@dataclass
class Restarted:
    """What a restart did: the trades repair fixed, and how often the new process died
    before it had resumed (a crash armed at a random instant can land in the repair)."""

    fixed: list[TradeExecution] = field(default_factory=list)
    deaths: list[str] = field(default_factory=list)
    # the new process resumed into an error it stops on (an accounting abort, a state it
    # refuses): the run stops there, as production's process would exit again
    stopped: Outcome | None = None


class Host(Protocol):
    """Where the runner runs; the engine drives it through these calls only."""

    state: State
    retries: list[str]

    def tick(self, ts: datetime, cycle: int) -> Outcome: ...

    def trigger_check(self, ts: datetime) -> Outcome: ...

    def restart(self, ts: datetime) -> Restarted: ...

    def abandon(self) -> State: ...

    def chain_goes_on(self, ts: datetime) -> None:
        """The runner died: the block it left being built is sealed without it."""
        ...

    def set_parameter(self, name: str, value: Any) -> None: ...

    def arm_crash(self, *, step: Step | None = None, after: int | None = None) -> None: ...

    def spare_runner(self, chain: ChainClient) -> ChainStrategyRunner: ...

    def close(self) -> None: ...


def runner_account(world: World) -> Wallet:
    """The account the runner sends as, a fresh object per runner (its nonce is its own):
    the harness's asset-manager key, or, on an adopted vault whose manager's key the
    harness does not hold, that manager by impersonation."""
    if world.impersonate is not None:
        return ImpersonatedWallet("adopted asset manager", world.impersonate)
    return Wallet.from_label(world.accounts.asset_manager.label)


def new_state(scenario: Scenario, world: World) -> State:
    reserve = world.universe.reserve
    state = State.new(scenario.name, reserve.symbol, scenario.clock.start, reserve.decimals)
    state.universe = UniverseIdentity.of(world.universe)  # repair refuses another universe
    return state


def accounting_policy(scenario: Scenario) -> AccountingPolicy:
    acc = scenario.accounting
    return AccountingPolicy(acc.tolerance, acc.relative_tolerance, acc.dust, MismatchPolicy(acc.on_mismatch),
                            acc.tolerance_units, acc.dust_units)


def load_scenario_strategy(scenario: Scenario) -> ModuleType:
    try:
        return load_strategy(scenario.strategy.module)
    except StrategyLoadError as exc:
        raise ScenarioRuntimeError(scenario.source.path, None, "strategy.module", str(exc)) from None


def _outcome_of(exc: BaseException) -> Outcome:
    if isinstance(exc, SimulatedCrash):
        return Outcome(OutcomeKind.crashed, step=exc.step, error=str(exc), error_kind="SimulatedCrash")
    if isinstance(exc, ChainError):
        return Outcome(OutcomeKind.node_error, error=str(exc), error_kind=type(exc).__name__)
    return Outcome(OutcomeKind.stopped, error=str(exc), error_kind=type(exc).__name__)


class InProcessHost:
    """The runner in this process; its state on disk through a segmented store.

    It shares the harness's chain client (one clock, one block being built), with a
    kill point proxy in front that counts only while the runner works."""

    def __init__(self, scenario: Scenario, world: World, state_path: Path, retries: list[str] | None = None) -> None:
        self.scenario = scenario
        self.world = world
        self.kill = KillSwitch(die=self._die)
        self.kill.active = False
        world.chain.backend = self.kill.around(world.chain.backend)
        self.store = SegmentedStateStore(state_path, fsync=False)
        self.kill.watch_files()
        self.state = new_state(scenario, world)
        self.store.save(self.state)
        self.strategy = load_scenario_strategy(scenario)
        self.runner = self._new_runner(self.state)
        self.retries: list[str] = retries if retries is not None else []  # the retry proxy's own list

    def _die(self, where: str) -> NoReturn:
        raise SimulatedCrash(where, self.kill.cycle)

    def spare_runner(self, chain: ChainClient) -> ChainStrategyRunner:
        """A runner like the live one on another chain client, never crashed on purpose:
        for checks that must ask the runner's own code a question (repair again, sync again)
        without touching the live runner or the faults armed for it."""
        return self._new_runner(self.state, chain, crashable=False)

    def _new_runner(self, state: State, chain: ChainClient | None = None,
                    crashable: bool = True) -> ChainStrategyRunner:
        overrides: Mapping[str, Any] = state.parameters.get(OVERRIDES, {})
        return ChainStrategyRunner(
            chain=chain or self.world.chain, universe=self.world.universe, strategy=self.strategy,
            parameters={**self.scenario.strategy.parameters, **overrides},
            asset_manager=runner_account(self.world), accounting_policy=accounting_policy(self.scenario),
            step_hook=self.kill.step if crashable else None, accounting_checks=self.scenario.accounting.checks,
        )

    # -- what the engine asks ---------------------------------------------------------
    def tick(self, ts: datetime, cycle: int) -> Outcome:
        self.kill.cycle = cycle
        self.kill.active = True
        try:
            details = self.runner.tick(ts, self.world.universe, self.state, {}, cycle=cycle, store=self.store)
        except (SimulatedCrash, ChainError, RunnerError) as exc:
            return _outcome_of(exc)
        finally:
            self.kill.active = False
        ids = set(details.get("trades", []))
        trades = self.state.portfolio.trades_with_ids(ids)
        return Outcome(OutcomeKind.ok, trades=trades, status=details.get("status", "ok"))

    def trigger_check(self, ts: datetime) -> Outcome:
        self.kill.active = True
        try:
            trades = self.runner.check_position_triggers(ts, self.state, self.world.universe, store=self.store)
        except (SimulatedCrash, ChainError, RunnerError) as exc:
            return _outcome_of(exc)
        finally:
            self.kill.active = False
        return Outcome(OutcomeKind.ok, trades=trades)

    def abandon(self) -> State:
        """The runner is gone for good: what survives is what its store holds."""
        self.state = self.store.load()
        return self.state

    def chain_goes_on(self, ts: datetime) -> None:
        """The chain goes on without the dead runner: what it left pending is mined. A
        block it had only begun (its time fixed, no transaction at the node: killed just
        before a broadcast) is not sealed: it died with the process, as a runner
        process's does, so both hosts give the same blocks."""
        chain = self.world.chain
        if chain.open_block_ts is not None and not chain.backend.pending_transactions():
            chain.resync(chain.clock, None, head=chain.known_head, last_block_ts=chain.last_block_ts)
        chain.flush()

    def restart(self, ts: datetime) -> Restarted:
        """A new process from the state file: it resumes (repair, sync, check) and saves."""
        done = Restarted()
        for _attempt in range(MAX_RESUMES):
            self.chain_goes_on(ts)
            state = self.store.load()
            self.runner = self._new_runner(state)
            self.kill.active = True
            try:
                done.fixed = self.runner.resume(state, ts)
                self.store.save(state)
            except SimulatedCrash as crash:
                done.deaths.append(crash.step)
                continue
            except ChainError as exc:  # the node failed the resume: the process exits, again
                done.deaths.append(f"resume ({type(exc).__name__})")
                continue
            except RunnerError as exc:
                self.state = state
                done.stopped = _outcome_of(exc)
                return done
            finally:
                self.kill.active = False
            self.state = state
            return done
        raise ScenarioRuntimeError(self.scenario.source.path, None, "timeline: crash",
                                   f"the runner died {MAX_RESUMES} times in a row while resuming")

    def set_parameter(self, name: str, value: Any) -> None:
        """Effective now and, saved at once, for every process after this one."""
        self.runner.parameters[name] = value
        self.state.parameters.setdefault(OVERRIDES, {})[name] = value
        self.store.save(self.state)

    def arm_crash(self, *, step: Step | None = None, after: int | None = None) -> None:
        self.kill.arm(step=step, after=after)

    def close(self) -> None:
        from runner.state import files

        files.fault_hook = None  # the seam is the process's: leave it as found


__all__ = ["Host", "InProcessHost", "Outcome", "OutcomeKind", "Restarted"]
