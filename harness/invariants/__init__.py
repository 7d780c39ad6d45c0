"""Invariants: what must hold at every point of every run, judged against the chain.

Each is a named, documented plain function `Moment -> list[Violation]` (see `core`);
importing this package registers them all. `InvariantSuite` runs them for one run.
"""

from harness.invariants import bookings, books, settlement, shares, triggers  # noqa: F401  (registers)
from harness.invariants.core import REGISTRY, Invariant, Moment, Point, Violation, at_point, names
from harness.invariants.suite import InvariantSuite

__all__ = ["REGISTRY", "Invariant", "InvariantSuite", "Moment", "Point", "Violation", "at_point", "names"]
