"""The invariant machinery: what a check sees, what a violation says, when checks run.

An invariant is a plain function `Moment -> list[Violation]` registered with the points
of a run at which it has something to say (after an event, after a tick, after a
trigger check, after a restart, when the runner stops itself, at the end, or just
before a tick or trigger check to
observe what the runner is about to see). A `Moment` carries the world, the runner's
state and `ChainTruth` (chain reads below the fault injector, priced by the harness
alone), plus a per-invariant memory for the few checks that compare across moments.

Every check runs in the exact context (runner/money.py, registered through `books`): an
amount, a holding or a NAV is added up and compared to the last digit, however many it
has (a 24-decimal token's 10,000 units are 29, past the default context's 28), and a
division a check makes without saying how it rounds (`rounded()`, `wide()`) raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec

from harness.truth import ChainTruth
from harness.vocabulary import InvariantName
from harness.world import World
from runner.money import books
from runner.runner import ChainStrategyRunner
from runner.state import (
    State,
    TradeExecution,
    TradeStatus,
    TradingPosition,
    decode_state,
    encode_state,
)
from runner.state.trade import UNFINISHED
from runner.universe import Universe

SETTLED = (TradeStatus.success, TradeStatus.failed)


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


class TradeScan:
    """Every trade of one state read once for all the checks of a point.

    Two checks read every trade at every point (a runner bug may rewrite an old trade in
    place, and nothing marks a change, so neither may skip any): booked-once each settled
    trade's last transaction hash, state-round-trip each open position's unfinished
    trades. On a long run the trades are cold in the cache by the time the checks run, so
    the reads cost more than the tests; one pass gives both. Exact because nothing
    changes a state between the checks of one point (they read it, or copy it), and the
    pass is made anew at every point."""

    def __init__(self, state: State) -> None:
        self._state = state
        self._hashes: list[str] | None = None
        self._unfinished: dict[int, dict[int, TradeExecution]] = {}  # id(open position) -> its unfinished trades

    def settled_hashes(self) -> list[str]:
        """`[t.blockchain_transactions[-1].tx_hash for pos in portfolio.all_positions()
        for t in pos.trades.values() if t.status in SETTLED and t.blockchain_transactions]`,
        noting each open position's unfinished trades on the way."""
        if self._hashes is None:
            p = self._state.portfolio
            opened = {id(pos) for pos in p.open_positions.values()}
            hashes: list[str] = []
            for pos in p.all_positions():
                if id(pos) in opened and id(pos) not in self._unfinished:
                    self._unfinished[id(pos)] = _both(pos, hashes)
                else:
                    hashes += [t.blockchain_transactions[-1].tx_hash for t in pos.trades.values()
                               if t.status in SETTLED and t.blockchain_transactions]
            self._hashes = hashes
        return self._hashes

    def unfinished(self, pos: TradingPosition) -> dict[int, TradeExecution]:
        """`{tid: t for tid, t in pos.trades.items() if t.status in UNFINISHED}` for an open
        position of the state (= `is_unfinished`), from the pass above if it ran."""
        got = self._unfinished.get(id(pos))
        if got is None:
            got = self._unfinished[id(pos)] = {tid: t for tid, t in pos.trades.items() if t.status in UNFINISHED}
        return got


def _both(pos: TradingPosition, hashes: list[str]) -> dict[int, TradeExecution]:
    """One walk of a position's trades: its unfinished ones returned, the last transaction
    hash of its settled ones appended to `hashes` (each test as the comprehensions make it)."""
    unfinished: dict[int, TradeExecution] = {}
    for tid, t in pos.trades.items():
        status = t.status
        if status in UNFINISHED:
            unfinished[tid] = t
        if status in SETTLED and t.blockchain_transactions:
            hashes.append(t.blockchain_transactions[-1].tx_hash)
    return unfinished


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
    _scan: TradeScan | None = field(default=None, repr=False)  # shared by the checks of one point

    @property
    def universe(self) -> Universe:
        return self.world.universe

    @property
    def block(self) -> int:
        if self._block is None:
            self._block = self.truth.backend.block_number()
        return self._block

    @property
    def trades(self) -> TradeScan:
        """The point's one pass over the state's trades (a new one if none was given)."""
        if self._scan is None:
            self._scan = TradeScan(self.state)
        return self._scan

    def violation(self, invariant: str, expected: object, found: object, detail: str) -> Violation:
        return Violation(invariant, self.at, self.time, self.block, str(expected), str(found), detail)


Check = Callable[[Moment], list[Violation]]

def copy_state(state: State) -> State:
    """An independent copy of `state`, for a check that lets a spare runner change it."""
    return decode_state(encode_state(state))


_MISSING = object()


def first_difference(a: Any, b: Any, path: str = "state") -> tuple[str, Any, Any] | None:
    """The first place two plain documents (decoded JSON: dicts, lists, scalars) differ,
    walked in `a`'s key order then `b`'s extra keys: (its path, `a`'s value there, `b`'s),
    a missing key or item as `<missing>`; None when they are equal."""
    if a == b:
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            found = first_difference(a.get(key, _MISSING), b.get(key, _MISSING), f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            found = first_difference(a[i] if i < len(a) else _MISSING, b[i] if i < len(b) else _MISSING,
                                     f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return path, "<missing>" if a is _MISSING else a, "<missing>" if b is _MISSING else b


def state_difference(a: State, b: State) -> tuple[str, Any, Any] | None:
    """The first path at which two states' documents (as the state file holds them) differ."""
    return first_difference(msgspec.json.decode(encode_state(a)), msgspec.json.decode(encode_state(b)))


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
    it), run at `points`, in the exact context."""

    def register(fn: Check) -> Check:
        InvariantName(name)  # a check the scenario format cannot name is a bug here
        if name in REGISTRY:
            raise ValueError(f"invariant {name!r} registered twice")
        exact = books(fn)
        REGISTRY[name] = Invariant(name, frozenset(points), exact)
        return exact

    return register


def names() -> tuple[str, ...]:
    return tuple(sorted(REGISTRY))


def at_point(point: Point, skip: Iterable[str] = ()) -> list[Invariant]:
    skipped = set(skip)
    return [inv for name, inv in sorted(REGISTRY.items()) if point in inv.points and name not in skipped]


__all__ = ["REGISTRY", "SETTLED", "Check", "Invariant", "Moment", "NavPoint", "Point", "TradeScan", "Violation",
           "at_point", "copy_state", "first_difference", "invariant", "names", "state_difference"]
