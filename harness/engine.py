"""The engine: a scenario's timeline driven through the real runner on a real chain.

    scenario -> world (deployed or reverted-to) -> timeline of instants
             -> per instant: events (harness transactions), then tick or trigger check,
                then expectations -> RunResult (state, journal, checks, repairs)

Time comes only from the scenario clock: the chain's blocks are sealed at it and
Python's clock is frozen to it (freezegun) while the runner works, so anything that
reads "now" reads scenario time.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from freezegun import freeze_time

from harness.accounts import Accounts
from harness.chains import ChainPool, WorldSpec
from harness.errors import ScenarioRuntimeError
from harness.events import apply_event
from harness.expectations import ExpectationResult, evaluate
from harness.journal import JournalEntry
from harness.node_faults import FaultInjectingBackend
from harness.scenario.model import Scenario
from harness.scenario.quantities import format_duration
from harness.timeline import Instant, build_timeline
from harness.version import HARNESS_VERSION
from harness.world import World, WorldActionFailed
from runner.accounting import AccountingPolicy
from runner.chain.errors import ChainError
from runner.chain.retry import RetryingBackend
from runner.chain.wallet import Wallet
from runner.errors import RunnerError, SimulatedCrash
from runner.runner import ChainStrategyRunner
from runner.state import SegmentedStateStore, State, StateStore, TradeExecution
from runner.strategy.loader import StrategyLoadError, load_strategy

DEPLOY_LEAD = timedelta(hours=1)  # the world is deployed this long before clock.start


@dataclass
class RunResult:
    scenario: Scenario
    backend: str
    seed: int
    state: State
    journal: list[JournalEntry] = field(default_factory=list)
    expectations: list[ExpectationResult] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    crashes: int = 0
    node_errors: int = 0
    retries: list[str] = field(default_factory=list)
    state_path: Path | None = None
    node_reads: int = 0
    node_sends: int = 0

    @property
    def failed_expectations(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if not e.passed]

    def fingerprint(self) -> str:
        return fingerprint(self.scenario, self.seed, self.backend)


def fingerprint(scenario: Scenario, seed: int, backend: str) -> str:
    return (f"scenario={scenario.name} sha256={scenario.source.sha256[:16]} seed={seed} "
            f"backend={backend} harness={HARNESS_VERSION}")


def replay_command(scenario: Scenario, seed: int, backend: str) -> str:
    return f"harness run {scenario.source.path} --backend {backend} --seed {seed}"


def world_spec(scenario: Scenario) -> WorldSpec:
    from harness.world import PoolDecl, TokenDecl

    u = scenario.universe
    tokens = tuple(
        TokenDecl(sym, t.decimals, t.rebasing, t.transfer_fee) for sym, t in u.tokens.items()
    )
    pools = tuple(
        PoolDecl(p.pair.split("/")[0], p.pair.split("/")[1], p.price, p.depth, p.fee) for p in u.pools
    )
    deploy_at = int((scenario.clock.start - DEPLOY_LEAD).timestamp())
    return WorldSpec(u.reserve, tokens, pools, tuple(scenario.investors), deploy_at)


@dataclass
class _Live:
    """What changes as a run goes: the runner and its state are replaced at each restart."""

    world: World
    store: StateStore
    state: State
    runner: ChainStrategyRunner
    result: RunResult
    stopped: bool = False


class CrashSwitch:
    """The step hook the runner calls: raises SimulatedCrash once at the armed step."""

    def __init__(self) -> None:
        self.armed: str | None = None
        self.cycle: int | None = None

    def __call__(self, step: str) -> None:
        if self.armed == step:
            self.armed = None
            raise SimulatedCrash(step, self.cycle)


class ScenarioRun:
    """One run of one scenario on one backend."""

    def __init__(self, scenario: Scenario, *, backend: str | None = None, seed: int | None = None,
                 pool: ChainPool | None = None, state_dir: Path | None = None,
                 restart_after_crash: bool = True,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.scenario = scenario
        self.backend = backend or scenario.chain.backend
        self.seed = scenario.seed if seed is None else seed
        self.pool = pool or ChainPool()
        self._own_pool = pool is None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dst-run-")
            state_dir = Path(self._tmp.name)
        self.state_path = Path(state_dir) / "state.json"
        self.restart_after_crash = restart_after_crash
        self.progress = progress
        self.rng = random.Random(self.seed)
        self.crash = CrashSwitch()
        self.faults: FaultInjectingBackend | None = None
        self.reorg_snaps: dict[timedelta, object] = {}
        self.now: datetime = scenario.clock.start
        self._cleanups: list[Any] = []

    def _runner(self, world: World, state: State) -> ChainStrategyRunner:
        s = self.scenario
        try:
            strategy = load_strategy(s.strategy.module)
        except StrategyLoadError as exc:
            raise ScenarioRuntimeError(s.source.path, None, "strategy.module", str(exc)) from None
        params = dict(state.parameters.get("overrides", {}))
        merged = {**s.strategy.parameters, **params, "_rng": self.rng}
        acc = s.accounting
        policy = AccountingPolicy(acc.tolerance, acc.relative_tolerance, acc.dust, acc.on_mismatch)
        return ChainStrategyRunner(
            chain=world.chain, universe=world.universe, strategy=strategy, parameters=merged,
            asset_manager=Wallet.from_label("asset-manager"), accounting_policy=policy,
            step_hook=self.crash, accounting_checks=acc.checks,
        )

    def run(self) -> RunResult:
        try:
            return self._run()
        finally:
            for cleanup in self._cleanups:
                cleanup()
            if self._own_pool:
                self.pool.close()

    def _run(self) -> RunResult:
        s = self.scenario
        accounts = Accounts.for_investors(s.investors)
        if self.backend == "anvil-fork" or (self.backend == "revm" and s.chain.fork_url is not None):
            from harness.forks import open_fork

            fork = open_fork(s, accounts, engine="anvil" if self.backend == "anvil-fork" else "revm")
            self._cleanups.append(fork.close)
            chain, world = fork.chain, fork.world
        else:
            chain, world = self.pool.world(self.backend, world_spec(s), accounts)
        # runner -> retries (the runner's own policy) -> injected faults -> the node
        self.faults = FaultInjectingBackend(chain.backend)
        retrying = RetryingBackend(self.faults)
        chain.backend = retrying
        reserve = world.universe.reserve
        state = State.new(s.name, reserve.symbol, s.clock.start, reserve.decimals)
        store = SegmentedStateStore(self.state_path, fsync=False)
        store.save(state)
        live = _Live(world, store, state, self._runner(world, state),
                     RunResult(s, self.backend, self.seed, state, state_path=self.state_path))
        # One frozen clock for the whole run, moved per instant: starting freezegun per
        # instant rescans every loaded module and costs more than a trading cycle.
        with freeze_time(s.clock.start) as frozen:
            timeline = build_timeline(s)
            for index, instant in enumerate(timeline):
                if self.progress is not None:
                    self.progress(index, len(timeline))
                ts = s.clock.start + instant.offset
                frozen.move_to(ts)
                self._instant(live, instant, ts)
                if live.stopped and live.result.error_kind == "SimulatedCrash":
                    break  # the process is dead and nobody restarts it
        result = live.result
        result.state = live.state
        result.retries = list(retrying.retries)
        result.node_reads = chain.reads
        result.node_sends = chain.sent
        return result

    def _instant(self, live: _Live, instant: Instant, ts: datetime) -> None:
        """Events, then the tick or the trigger check, then expectations; one journal row."""
        chain = live.world.chain
        self.now = ts
        chain.set_clock(int(ts.timestamp()))
        if instant.reorg_mark:
            self.reorg_snaps[instant.offset] = chain.snapshot()
        entry = JournalEntry(at=format_duration(instant.offset), time=ts, kind="events")
        for event in instant.events:
            entry.events.append(self._event(live.world, event, live.runner, live.result))
        if instant.tick and not live.stopped:
            entry.kind = "tick"
            self._tick(live, ts, entry)
        elif instant.trigger_check and not live.stopped:
            self._trigger_check(live, ts, entry)
            if entry.kind == "events" and not instant.events and not instant.expectations:
                return  # a quiet trigger check leaves no row
        assert self.faults is not None
        left = self.faults.disarm()
        if left:
            entry.events.append(f"{left} injected node fault(s) unused")
        entry.nav = live.state.portfolio.nav()
        entry.cash = live.state.portfolio.cash()
        if instant.events or entry.trades or (instant.tick and not (live.stopped and entry.kind == "events")):
            live.result.journal.append(entry)
        for exp in instant.expectations:
            live.result.expectations.append(evaluate(exp, ts, live.state, live.result, live.world.universe))

    def _trigger_check(self, live: _Live, ts: datetime, entry: JournalEntry) -> None:
        try:
            trades = live.runner.check_position_triggers(ts, live.state, live.world.universe)
        except ChainError as exc:
            live.result.node_errors += 1
            entry.kind, entry.status = "trigger", "node error"
            entry.events.append(f"node error: {exc}")
            self._restart(live, ts)
            return
        if trades:
            entry.kind = "trigger"
            entry.trades = [describe_trade(t) for t in trades]
            self._disarm_after(live.world, trades)
            live.store.save(live.state)

    def _event(self, world: World, event: Any, runner: ChainStrategyRunner, result: RunResult) -> str:
        try:
            return apply_event(world, event, self, runner, result)
        except WorldActionFailed as exc:
            return f"{event.kind} failed: {exc.reason}"

    def _disarm_after(self, world: World, trades: list[TradeExecution]) -> None:
        if not world.armed_faults:
            return
        pairs = {t.pair for t in trades}
        if "*" in world.armed_faults or pairs & set(world.armed_faults):
            world.disarm_faults()

    def _tick(self, live: _Live, ts: datetime, entry: JournalEntry) -> None:
        """The strategy cycle, restarting the runner as often as it dies (at most twice)."""
        result = live.result
        cycle = live.state.cycle + 1
        self.crash.cycle = cycle
        for _attempt in range(3):
            try:
                details = live.runner.tick(ts, live.world.universe, live.state, {}, cycle=cycle, store=live.store)
            except SimulatedCrash as crash:
                result.crashes += 1
                entry.events.append(f"crash at {crash.step}")
                if not self.restart_after_crash:
                    # Leave everything as the dead process left it: for `harness repair`.
                    entry.status = "crashed"
                    live.world.chain.flush()  # the chain goes on without the runner
                    result.error, result.error_kind = str(crash), "SimulatedCrash"
                    live.state, live.stopped = live.store.load(), True
                    return
            except ChainError as exc:
                # The node failed past what the runner retries: the process exits, as a
                # live runner would, and is restarted from its state file.
                result.node_errors += 1
                entry.events.append(f"node error: {exc}")
                assert self.faults is not None
                self.faults.disarm()
            except RunnerError as exc:
                entry.status = "error"
                result.error, result.error_kind = str(exc), type(exc).__name__
                entry.events.append(f"stopped: {type(exc).__name__}")
                # what survives is what the store holds: the failed cycle wrote nothing
                live.state, live.stopped = live.store.load(), True
                return
            else:
                trade_ids = set(details.get("trades", []))
                trades = sorted((t for t in live.state.portfolio.all_trades() if t.trade_id in trade_ids),
                                key=lambda t: t.trade_id)
                entry.trades = [describe_trade(t) for t in trades]
                entry.status = details.get("status", "ok")
                self._disarm_after(live.world, trades)
                return
            self._restart(live, ts)
            if live.state.cycle >= cycle:
                return  # the crashed cycle had already been saved as complete

    def _restart(self, live: _Live, ts: datetime) -> None:
        """The process died: the chain goes on, a new runner starts from the state file,
        repairs, syncs and checks the books before anything else, as a real restart does."""
        world = live.world
        world.chain.flush()
        state = live.store.load()
        runner = self._runner(world, state)
        for t in runner.repair_state(state, ts):
            live.result.repaired.append({"trade_id": t.trade_id, "status": t.status.value,
                                         "reason": t.failure_reason or "settled from its receipt", "at": ts})
        runner.needs_repair = False
        runner.sync_portfolio(ts, world.universe, state, {})
        if runner.accounting_checks:
            runner.check_accounts(world.universe, state, end_block=state.sync.last_block,
                                  cycle=state.cycle, kind="restart", ts=ts)
        live.store.save(state)
        live.state, live.runner = state, runner


def describe_trade(t: TradeExecution) -> str:
    side = "buy" if t.is_buy else "sell" if t.is_sell else "repair"
    qty = t.executed_quantity if t.executed_quantity is not None else t.planned_quantity
    extra = f" ({t.failure_reason})" if t.failure_reason else ""
    return f"#{t.trade_id} {t.trade_type.value} {side} {t.pair} {abs(qty)} {t.status.value}{extra}"


def run_scenario(scenario: Scenario, **kwargs: Any) -> RunResult:
    return ScenarioRun(scenario, **kwargs).run()


__all__ = ["DEPLOY_LEAD", "RunResult", "ScenarioRun", "fingerprint", "replay_command", "run_scenario"]
