"""The engine: a scenario's timeline driven through the real runner on a real chain.

    scenario -> world (deployed or reverted-to) -> timeline of instants
             -> per instant: events (harness transactions), then tick or trigger check,
                then expectations -> RunResult (state, journal, checks, repairs)

Time comes only from the scenario clock: the chain's blocks are sealed at it and
Python's clock is frozen to it (freezegun) while the runner works, so anything that
reads "now" reads scenario time. The runner itself lives in a host (harness/host.py);
events reach the world through a narrow context (harness/context.py).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from freezegun import freeze_time

from harness.accounts import Accounts
from harness.audit import build_audit
from harness.chains import ChainPool, accounts_for, world_spec
from harness.context import EventContext, FaultControl
from harness.errors import ScenarioRuntimeError
from harness.events import apply
from harness.expectations import Observed, evaluate
from harness.forks import Fork, at_addresses, open_fork, redact_url
from harness.host import Host, InProcessHost, Outcome, OutcomeKind
from harness.invariants import InvariantSuite, Point
from harness.journal import JournalEntry, describe_trade
from harness.node_control import NodeControl, NoMark
from harness.node_faults import FaultInjectingBackend
from harness.process_host import ProcessHost, WireFaults
from harness.result import RunResult, WithdrawalRecord, replay_command
from harness.scenario import check_for_backend
from harness.scenario.model import Event, Scenario
from harness.scenario.quantities import format_duration
from harness.timeline import Instant, build_timeline
from harness.vocabulary import PROCESS_BACKENDS, HostKind, WithdrawalStatus
from harness.wire import WireProxy
from harness.world import World, WorldActionFailed
from runner.chain.client import ChainClient
from runner.chain.errors import Unsupported
from runner.chain.retry import RetryingBackend
from runner.state.errors import StateError

MAX_ATTEMPTS = 3  # a tick whose runner keeps dying is restarted at most twice
FAULT_EVENTS = frozenset({"fail_next_trade", "node_fault", "wire_fault", "crash", "reorg", "mempool", "node_restart"})
logger = logging.getLogger(__name__)


class ScenarioRun:
    """One run of one scenario on one backend."""

    def __init__(self, scenario: Scenario, *, backend: str | None = None, seed: int | None = None,
                 pool: ChainPool | None = None, state_dir: Path | None = None,
                 restart_after_crash: bool = True,
                 progress: Callable[[int, int], None] | None = None,
                 skip_invariants: Iterable[str] = (), host: HostKind | str | None = None) -> None:
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
        self.skip_invariants = (*(str(s.name) for s in scenario.invariants.skip), *skip_invariants)
        # A node backend runs the runner in its own process (crashes are real kills);
        # the embedded chains run it in this one.
        self.host_kind = HostKind(host) if host is not None else (
            HostKind.process if self.backend in PROCESS_BACKENDS else HostKind.in_process)
        if self.host_kind == HostKind.process and self.backend not in PROCESS_BACKENDS:
            raise ScenarioRuntimeError(scenario.source.path, None, "chain.backend",
                                       f"a runner process needs a node backend ({', '.join(PROCESS_BACKENDS)}), "
                                       f"not {self.backend}")
        self._proxy: WireProxy | None = None
        self._node_url = ""
        self._cleanups: list[Callable[[], None]] = []

    def run(self) -> RunResult:
        try:
            return self._run()
        finally:
            for cleanup in self._cleanups:
                cleanup()
            if self._own_pool:
                self.pool.close()

    # -- set-up ------------------------------------------------------------------
    def _world(self, accounts: Accounts) -> World:
        forking = self.scenario.chain.fork_url is not None
        if self.backend == "anvil-fork" or (self.backend == "revm" and forking):
            fork = self._open_fork(accounts, engine="anvil" if self.backend == "anvil-fork" else "revm")
            self._cleanups.append(fork.close)
            self._node_url = fork.url
            return fork.world
        if self.scenario.universe.adopt is not None:
            return self._adopt_here(accounts)
        _chain, world = self.pool.world(self.backend, world_spec(self.scenario), accounts)
        if self.backend == "anvil":
            self._node_url = self.pool.node_url
        return world

    def _adopt_here(self, accounts: Accounts) -> World:
        """An adopting scenario without a fork runs on a node that already holds its
        contracts (`harness run --rpc URL`): adopted there as they are, never deployed."""
        from harness.protocols.adopt import adopt_world

        s = self.scenario
        if self.backend != "anvil" or self.pool.anvil_url is None:
            raise ScenarioRuntimeError(
                s.source.path, None, "universe.adopt",
                f"adopted contracts exist only on a chain that has them: fork one (chain: {{backend: anvil-fork, "
                f"fork_url: ..., fork_block: N}}) or run on a node that holds them (--backend anvil --rpc URL), "
                f"not on a fresh {self.backend} chain")
        chain = self.pool.existing_chain(accounts)
        self._node_url = self.pool.node_url
        return adopt_world(chain, accounts, s)

    def _open_fork(self, accounts: Accounts, engine: str) -> Fork:
        """Fork the chain the scenario names at its pinned block. `fork_url: https://...`
        is forked as it is; a `scenario:PATH` history runs first on a local anvil playing
        "mainnet", whose URL is then forked the same way. The world on the fork is the one
        `universe.adopt` names (read and checked), or, without adopt, the history's own
        fixture world at the addresses its deterministic deployment gave."""
        from harness.protocols.adopt import adopt_world
        from harness.scenario import load_scenario

        s = self.scenario
        spec, src = s.chain, s.source.path
        if spec.fork_url is None or spec.fork_block is None:
            raise ScenarioRuntimeError(src, None, "chain", "backend anvil-fork needs chain.fork_url and chain.fork_block")
        adopting = s.universe.adopt is not None
        build: Callable[[ChainClient], World] = lambda chain: adopt_world(chain, accounts, s)  # noqa: E731
        if not spec.fork_url.startswith("scenario:"):
            if not adopting:
                raise ScenarioRuntimeError(src, None, "chain.fork_url",
                                           f"a fork of {redact_url(spec.fork_url)} needs universe.adopt: the "
                                           "addresses of the vault, the exchanges, the tokens and the pools there")
            return open_fork(spec.fork_url, spec.fork_block, accounts, build, engine)
        history_path = Path(spec.fork_url.removeprefix("scenario:"))
        history = load_scenario(history_path)
        if not adopting and history.universe.adopt is not None:
            raise ScenarioRuntimeError(src, None, "chain.fork_url",
                                       f"the history scenario {history_path} adopts its world: adopt it here too "
                                       "(universe.adopt with the same addresses)")
        if not adopting and world_spec(history).key(with_time=False) != world_spec(s).key(with_time=False):
            raise ScenarioRuntimeError(src, None, "chain.fork_url",
                                       f"the history scenario {history_path} declares another universe or investors; "
                                       "a fork finds contracts by the addresses the same world would have (or adopt "
                                       "them by address: universe.adopt)")
        mainnet = ChainPool()
        self._cleanups.append(mainnet.close)
        ScenarioRun(history, backend="anvil", pool=mainnet).run()
        if not adopting:
            deployed = mainnet.deployed_universe("anvil", world_spec(history))
            build = at_addresses(accounts, deployed.universe, deployed.fault_switch)
        return open_fork(mainnet.node_url, spec.fork_block, accounts, build, engine)

    def _restart_node(self) -> None:
        self.pool.restart_node(self.backend)
        if self._proxy is not None:
            self._proxy.retarget(self.pool.node_url)  # the runner's process keeps its URL

    def _host(self, world: World) -> tuple[Host, FaultControl]:
        """The runner's host and the node faults' switch, by the run's host kind.

        In this process: runner -> kill points -> retries -> injected faults -> the node.
        In its own process: runner -> kill points -> retries -> [the wire proxy] -> the
        node, the harness's own requests going to the node directly."""
        s = self.scenario
        if self.host_kind == HostKind.process:
            proxy = self._proxy = WireProxy(self._node_url, hold=30.0, slow=0.05).start()
            self._cleanups.append(proxy.stop)
            host = ProcessHost(s, world, self.state_path, proxy, forks=self.pool.fork_server_for())
            self._cleanups.insert(0, host.close)
            return host, WireFaults(proxy)
        faults = FaultInjectingBackend(world.chain.backend)
        retrying = RetryingBackend(faults)
        world.chain.backend = retrying
        in_process = InProcessHost(s, world, self.state_path, retries=retrying.retries)
        faults.runner_working = lambda: in_process.kill.active
        self._cleanups.insert(0, in_process.close)
        return in_process, faults

    def _run(self) -> RunResult:
        s = self.scenario
        check_for_backend(s, self.backend)  # what the overriding backend cannot carry out
        world = self._world(accounts_for(s))
        chain = world.chain
        raw = chain.backend  # below any fault injector: checks never consume a fault
        host, faults = self._host(world)
        result = RunResult(s, self.backend, self.seed, host.state, state_path=self.state_path)
        node = NodeControl(chain, world.accounts, self._restart_node)
        invariants = InvariantSuite(
            world, raw, tolerance=s.accounting.tolerance, state_path=self.state_path,
            spare_runner=lambda: host.spare_runner(ChainClient(raw, clock=chain.clock)),
            skip=self.skip_invariants, replay=replay_command(s, self.seed, self.backend),
        )
        driver = _Driver(s, world, host, result, faults, node, invariants, self.restart_after_crash, self.seed)
        # One frozen clock for the whole run, moved per instant: starting freezegun per
        # instant rescans every loaded module and costs more than a trading cycle.
        with freeze_time(s.clock.start) as frozen:
            timeline = build_timeline(s)
            for index, instant in enumerate(timeline):
                if self.progress is not None:
                    self.progress(index, len(timeline))
                ts = s.clock.start + instant.offset
                frozen.move_to(ts)
                driver.instant(instant, ts, last=index == len(timeline) - 1)
                if driver.dead:
                    break  # the process is dead and nobody restarts it
        result.state = host.state
        result.invariant_checks = invariants.checks
        result.chain_nav = invariants.nav_series
        result.retries = list(host.retries)
        result.node_reads = chain.reads
        result.node_sends = chain.sent
        result.audit = build_audit(raw, world.universe, host.state, invariants.first_block, raw.block_number())
        return result


class _Driver:
    """Carries out the instants of one run: events, the runner's cycle, expectations."""

    def __init__(self, scenario: Scenario, world: World, host: Host, result: RunResult,
                 faults: FaultControl, node: NodeControl,
                 invariants: InvariantSuite, restart_after_crash: bool, seed: int) -> None:
        self.scenario = scenario
        self.world = world
        self.host = host
        self.result = result
        self.faults = faults
        self.node = node
        self.seed = seed
        self.invariants = invariants
        self.restart_after_crash = restart_after_crash
        self._entry: JournalEntry | None = None
        self._at = ""
        self._time: datetime | None = None
        self.stopped = False  # the runner stopped (an error, or a crash nobody restarts)
        self.dead = False  # ...by a crash: nothing more happens in this run

    def instant(self, instant: Instant, ts: datetime, last: bool = False) -> None:
        """Events, then the tick or the trigger check, then expectations; one journal row.
        The last instant also runs the end-of-run invariants, before its expectations."""
        chain = self.world.chain
        logger.debug("instant %s (%s)%s%s", format_duration(instant.offset), ts.isoformat(), " tick" if instant.tick else "", " trigger check" if instant.trigger_check else "")
        chain.set_clock(int(ts.timestamp()))
        if instant.reorg_mark:
            self.node.mark(instant.offset)
        entry = JournalEntry(at=format_duration(instant.offset), time=ts, kind="events")
        self._entry, self._at, self._time = entry, entry.at, ts
        wire = self.faults if isinstance(self.faults, WireFaults) else None
        ctx = EventContext(self.world, self.faults, self.node, self.host, ts, self.seed, wire, self.result.withdrawals)
        if instant.events:  # claims of settled requests first (the async vault; see claim_settled)
            entry.events.extend(self._claims(ts))
        for event in instant.events:
            entry.events.append(self._event(event, ctx))
            logger.log(logging.WARNING if event.kind in FAULT_EVENTS else logging.INFO, "%s %s: %s", entry.at, event.kind, entry.events[-1])
            self._check(Point.event, event)
        if instant.tick and not self.stopped:
            entry.kind = "tick"
            self._tick(ts, entry)
        elif instant.trigger_check and not self.stopped:
            self._trigger_check(ts, entry)
            quiet = entry.kind == "events" and not instant.events and not instant.expectations and not entry.events
            if quiet and not last:
                return  # a quiet trigger check leaves no row
        if last:
            self._check(Point.end)
        left = self.faults.disarm()
        if left:
            entry.events.append(f"{left} injected node fault(s) unused")
        state = self.host.state
        entry.nav = state.portfolio.nav()
        entry.cash = state.portfolio.cash()
        if instant.events or entry.trades or (instant.tick and not (self.stopped and entry.kind == "events")):
            self.result.journal.append(entry)
        seen = Observed(ts, state, self.result)
        for exp in instant.expectations:
            self.result.expectations.append(evaluate(exp, seen))

    def _claims(self, ts: datetime) -> list[str]:
        """Claim settled requests (the async vault): a redemption's claim is its payment."""
        try:
            claims = self.world.claim_settled()
        except WorldActionFailed as exc:
            return [f"claim failed: {exc.reason}"]
        self.result.withdrawals.extend(WithdrawalRecord(ts, c.investor, WithdrawalStatus.paid)
                                       for c in claims if c.redemption)
        return [c.line for c in claims]

    def _check(self, point: Point, event: Event | None = None) -> None:
        """Run the invariants of `point`; each violation also gets a journal line."""
        assert self._time is not None
        for v in self.invariants.check(point, self._at, self._time, self.host.state, event):
            self.result.violations.append(v)
            if self._entry is not None:
                self._entry.events.append(f"violation: {v.invariant}")

    def _event(self, event: Event, ctx: EventContext) -> str:
        try:
            return apply(event, ctx)
        except WorldActionFailed as exc:
            return f"{event.kind} failed: {exc.reason}"
        except Unsupported as exc:
            raise ScenarioRuntimeError(self.scenario.source.path, event.line, f"timeline: {event.kind}",
                                       str(exc)) from None
        except NoMark as exc:
            raise ScenarioRuntimeError(self.scenario.source.path, event.line, "timeline: reorg.to", str(exc)) from None

    def _disarm_after(self, trades: list[Any]) -> None:
        world = self.world
        if not world.armed_faults:
            return
        pairs = {t.pair for t in trades}
        if "*" in world.armed_faults or pairs & set(world.armed_faults):
            world.disarm_faults()

    def _trigger_check(self, ts: datetime, entry: JournalEntry) -> None:
        self._check(Point.before_trigger)
        try:
            outcome = self.host.trigger_check(ts)
        except Exception as exc:
            self._post_mortem(exc)
            raise
        if outcome.kind != OutcomeKind.ok:
            entry.kind = "trigger"
            self._died(ts, entry, outcome)
            return
        if outcome.trades:
            entry.kind = "trigger"
            entry.trades = [describe_trade(t) for t in outcome.trades]
            self._disarm_after(outcome.trades)
        self._check(Point.trigger)

    def _tick(self, ts: datetime, entry: JournalEntry) -> None:
        """The strategy cycle, restarting the runner as often as it dies (at most twice)."""
        cycle = self.host.state.cycle + 1
        for _attempt in range(MAX_ATTEMPTS):
            self._check(Point.before_tick)
            try:
                outcome = self.host.tick(ts, cycle)
            except Exception as exc:
                self._post_mortem(exc)
                raise
            if outcome.kind == OutcomeKind.ok:
                entry.trades = [describe_trade(t) for t in outcome.trades]
                entry.status = outcome.status
                self._disarm_after(outcome.trades)
                self._check(Point.tick)
                return
            if not self._died(ts, entry, outcome):
                return
            if self.host.state.cycle >= cycle:
                return  # the crashed cycle had already been saved as complete

    def _post_mortem(self, exc: Exception) -> None:
        """The runner raised what nobody handles (a bug of its own): before that propagates,
        the first violation of each invariant the run had found (lost with the result
        otherwise) and what the invariants find in the state it died with become notes on
        the exception. The exception is often only the symptom (a negative NAV refused by
        the ABI encoder); the notes name the cause (a correction booked the wrong way)."""
        assert self._time is not None
        first: dict[str, Any] = {}
        for earlier in self.result.violations:  # what the run had found before: lost with the result otherwise
            first.setdefault(earlier.invariant, earlier)
        for v in first.values():
            exc.add_note(f"before the crash: {v}")
        try:
            found = self.invariants.post_mortem(self._at, self._time, self.host.state)
        except Exception as inner:  # noqa: BLE001 - a state too broken to judge: say so, keep the original error
            exc.add_note(f"post-mortem: the invariants could not judge the state: {type(inner).__name__}: {inner}")
            return
        for v in found:
            exc.add_note(f"post-mortem: {v}")

    def _died(self, ts: datetime, entry: JournalEntry, outcome: Outcome) -> bool:
        """The runner stopped, crashed or lost its node: record it and restart it if a
        deployment would. Returns whether the runner is running again."""
        if outcome.kind == OutcomeKind.stopped:
            self._check(Point.stop)  # the books it stopped with, before the host abandons them
            self._stop(entry, outcome, "error")
            entry.events.append(f"stopped: {outcome.error_kind}")
            return False
        if outcome.kind == OutcomeKind.crashed:
            self.result.crashes += 1
            logger.warning("%s: the runner died at %s; %s", self._at, outcome.step,
                           "restarting it from its state file" if self.restart_after_crash else "not restarted (--no-restart)")
            entry.events.append(f"crash at {outcome.step}")
            if not self.restart_after_crash:
                # Leave everything as the dead process left it: for `harness repair`.
                self.host.chain_goes_on(ts)
                self._stop(entry, outcome, "crashed")
                self.dead = True
                return False
        else:
            # The node failed past what the runner retries: the process exits, as a
            # live runner would, and is restarted from its state file.
            self.result.node_errors += 1
            logger.warning("%s: node error past the runner's retries: %s; restarting the runner", self._at, outcome.error)
            entry.status = "node error" if entry.kind == "trigger" else entry.status
            entry.events.append(f"node error: {outcome.error}")
            self.faults.disarm()
        return self._restart(ts, entry)

    def _stop(self, entry: JournalEntry, outcome: Outcome, status: str) -> None:
        logger.error("%s: the run stopped (%s): %s", self._at, outcome.error_kind, outcome.error)
        entry.status = status
        self.result.error, self.result.error_kind = outcome.error, outcome.error_kind
        try:
            self.host.abandon()
        except StateError as exc:
            # The books the runner died with fail the store's own checks (a negative
            # holding, say): the stop's cause stays the verdict, the refusal is its sequel.
            logger.error("%s: its last saved state fails the store's checks: %s", self._at, exc)
            self.result.error = f"{outcome.error}; its last saved state fails the store's checks: {exc}"
        self.stopped = True

    def _restart(self, ts: datetime, entry: JournalEntry) -> bool:
        """The process died: the chain goes on, a new runner resumes from the state file.
        Returns whether it is running again (a resume can stop on an error of its own)."""
        restarted = self.host.restart(ts)
        for step in restarted.deaths:
            self.result.crashes += 1
            if self._entry is not None:
                self._entry.events.append(f"crash at {step} (while resuming)")
        for t in restarted.fixed:
            self.result.repaired.append({"trade_id": t.trade_id, "status": t.status.value,
                                         "reason": t.failure_reason or "settled from its receipt", "at": ts})
        if restarted.stopped is not None:
            self._stop(entry, restarted.stopped, "error")
            entry.events.append(f"stopped while resuming: {restarted.stopped.error_kind}")
            return False
        self._check(Point.restart)
        return True


def run_scenario(scenario: Scenario, **kwargs: Any) -> RunResult:
    return ScenarioRun(scenario, **kwargs).run()


__all__ = ["ScenarioRun", "run_scenario"]
