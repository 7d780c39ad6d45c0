"""The invariant machinery: what a check sees, what a violation says, when checks run.

An invariant is a plain function `Moment -> list[Violation]` registered with the points
of a run at which it has something to say (after an event, after a tick, after a
trigger check, after a restart, when the runner stops itself, at the end, or just
before a tick or trigger check to
observe what the runner is about to see). A `Moment` carries the world, the runner's
state and `ChainTruth` (chain reads below the fault injector, priced by the harness
alone), plus a per-invariant memory for the few checks that compare across moments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from harness.truth import ChainTruth
from harness.vocabulary import InvariantName
from harness.world import World
from runner.runner import ChainStrategyRunner
from runner.state import State
from runner.universe import Universe


class Point(StrEnum):
    """Where in a run a check happens."""

    before_tick = "before_tick"
    before_trigger = "before_trigger"
    event = "event"
    tick = "tick"
    trigger = "trigger"
    restart = "restart"
    stop = "stop"  # the runner stopped itself (an aborting check, a strategy error): the run goes no further
    end = "end"


@dataclass(frozen=True)
class NavPoint:
    """The NAV the chain says beside the NAV the ledger says, after one tick."""

    time: datetime
    block: int
    chain_nav: Decimal
    ledger_nav: Decimal


@dataclass(frozen=True)
class Violation:
    """One invariant that did not hold, with both sides of the comparison."""

    invariant: str
    at: str  # the instant as an offset from clock.start
    time: datetime
    block: int
    expected: str  # what the chain (or the rule) says
    found: str  # what the runner's books say
    detail: str
    replay: str = ""

    def __str__(self) -> str:
        return (f"invariant {self.invariant} violated at {self.at} ({self.time:%Y-%m-%d %H:%M}), block {self.block}: "
                f"{self.detail}; chain/rule: {self.expected}; ledger: {self.found}"
                + (f"\n  replay: {self.replay}" if self.replay else ""))


@dataclass
class Moment:
    """What an invariant may look at, at one point of a run."""

    point: Point
    at: str
    time: datetime
    state: State
    world: World
    truth: ChainTruth
    tolerance: Decimal  # the policy's tolerance, in reserve-currency value
    memory: dict[str, Any]  # this invariant's own notes across moments
    spare_runner: Callable[[], ChainStrategyRunner]  # a fresh runner on the truth chain
    state_path: Any = None  # the state file on disk (a Path), when the run has one
    event: Any = None  # the event just applied, at Point.event
    pending: frozenset[bytes] = frozenset()  # transaction hashes the node still holds
    first_block: int = 0  # the first block of this run: what came before is history (a fork's)
    external: frozenset[str] = frozenset()  # assets the harness moved behind the runner's back
    _block: int | None = field(default=None, repr=False)

    @property
    def universe(self) -> Universe:
        return self.world.universe

    @property
    def block(self) -> int:
        if self._block is None:
            self._block = self.truth.backend.block_number()
        return self._block

    def violation(self, invariant: str, expected: object, found: object, detail: str) -> Violation:
        return Violation(invariant, self.at, self.time, self.block, str(expected), str(found), detail)


Check = Callable[[Moment], list[Violation]]


@dataclass(frozen=True)
class Invariant:
    name: str
    points: frozenset[Point]
    check: Check

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


REGISTRY: dict[str, Invariant] = {}


def invariant(name: str, *points: Point) -> Callable[[Check], Check]:
    """Register a check under `name` (an `InvariantName`: the scenario format's word for
    it), run at `points`."""

    def register(fn: Check) -> Check:
        InvariantName(name)  # a check the scenario format cannot name is a bug here
        if name in REGISTRY:
            raise ValueError(f"invariant {name!r} registered twice")
        REGISTRY[name] = Invariant(name, frozenset(points), fn)
        return fn

    return register


def names() -> tuple[str, ...]:
    return tuple(sorted(REGISTRY))


def at_point(point: Point, skip: Iterable[str] = ()) -> list[Invariant]:
    skipped = set(skip)
    return [inv for name, inv in sorted(REGISTRY.items()) if point in inv.points and name not in skipped]


__all__ = ["REGISTRY", "Check", "Invariant", "Moment", "NavPoint", "Point", "Violation", "at_point", "invariant",
           "names"]
