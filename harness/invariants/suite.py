"""Running the invariants of one run: every registered check at every point it names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.invariants.core import Moment, NavPoint, Point, TradeScan, Violation, at_point, names
from harness.scenario.model import ExternalTransferEvent, ReorgEvent
from harness.truth import ChainTruth
from harness.world import World
from runner.accounting import SHARES
from runner.chain.backend import Backend
from runner.runner import ChainStrategyRunner
from runner.state import State


def behind_the_back(event: Any, world: World) -> set[str]:
    """Assets an event moves without the runner's knowledge and without an event the
    runner could book: tokens arriving or leaving, or everything, when a reorg rewrites
    the chain. Only these may differ between the ledger and the chain (and then a check
    of the runner's must have said so)."""
    if isinstance(event, ExternalTransferEvent):
        return {event.token}
    if isinstance(event, ReorgEvent):
        return {*world.universe.tokens, SHARES}
    return set()


class UnknownInvariant(ValueError):
    """A skip list names an invariant that does not exist."""


class InvariantSuite:
    """The invariants of one run, with each one's memory across the run's moments."""

    def __init__(self, world: World, backend: Backend, *, tolerance: Decimal,
                 spare_runner: Callable[[], ChainStrategyRunner], state_path: Path | None = None,
                 skip: Iterable[str] = (), replay: str = "") -> None:
        unknown = sorted(set(skip) - set(names()))
        if unknown:
            raise UnknownInvariant(f"no invariant named {', '.join(unknown)} (known: {', '.join(names())})")
        self.world = world
        self.truth = ChainTruth(backend, world.universe)
        self.tolerance = tolerance
        self.spare_runner = spare_runner
        self.state_path = state_path
        self.skip = frozenset(skip)
        self.replay = replay
        self.memory: dict[str, dict[str, Any]] = {}
        self.checks = 0
        self.violations: list[Violation] = []
        self.first_block = backend.block_number() + 1  # the run's own blocks start after this
        self.external: set[str] = set()

    @property
    def nav_series(self) -> list[NavPoint]:
        """Chain-truth NAV beside the ledger's after every tick (what chain-truth-nav saw)."""
        return list(self.memory.get("chain-truth-nav", {}).get("series", []))

    def check(self, point: Point, at: str, time: datetime, state: State, event: Any = None) -> list[Violation]:
        """Run the invariants of `point`; returns (and keeps) what they found."""
        found: list[Violation] = []
        if point == Point.event:
            self.external |= behind_the_back(event, self.world)
        self.truth.forget()  # a reorg can give a block number other contents: read afresh per point
        pending = frozenset(self.truth.backend.pending_transactions()) if point == Point.end else frozenset()
        block: int | None = None
        scan = TradeScan(state)  # one pass over the trades for all of the point's checks
        for inv in at_point(point, self.skip):
            moment = Moment(point, at, time, state, self.world, self.truth, self.tolerance,
                            self.memory.setdefault(inv.name, {}), self.spare_runner, self.state_path, event,
                            pending, self.first_block, frozenset(self.external), block, scan)
            self.checks += 1
            for v in inv.check(moment):
                found.append(Violation(v.invariant, v.at, v.time, v.block, v.expected, v.found, v.detail, self.replay))
            block = moment._block  # one head read per point, shared by its checks
        self.violations.extend(found)
        return found

    def post_mortem(self, at: str, time: datetime, state: State) -> list[Violation]:
        """The tick's invariants on the state of a runner that died of an unhandled error
        mid-cycle, except the state file's round trip (a cycle cut short need not have
        saved). Kept apart from `violations`: the run is failing already, these only say
        why, and a check of a half-done cycle may see a symptom rather than the cause."""
        found: list[Violation] = []
        self.truth.forget()
        scan = TradeScan(state)
        for inv in at_point(Point.tick, {*self.skip, "state-round-trip"}):
            moment = Moment(Point.tick, at, time, state, self.world, self.truth, self.tolerance,
                            dict(self.memory.get(inv.name, {})), self.spare_runner, self.state_path, None,
                            frozenset(), self.first_block, frozenset(self.external), _scan=scan)
            self.checks += 1
            found.extend(Violation(v.invariant, v.at, v.time, v.block, v.expected, v.found, v.detail, self.replay)
                         for v in inv.check(moment))
        return found


__all__ = ["InvariantSuite", "UnknownInvariant"]
