"""What an event handler may touch, and nothing more.

A handler gets an `EventContext`: the world (its contracts and harness accounts), the
node-fault switch, node control, the live run (to change a strategy parameter or arm
its death), and the run's seed. It never sees the engine, so the data flow stays one way:
scenario -> harness -> runner -> chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from harness.node_control import NodeControl
from harness.node_faults import FaultInjectingBackend
from harness.world import World
from runner.steps import Step


class LiveRun(Protocol):
    """The running strategy as events may change it."""

    def set_parameter(self, name: str, value: Any) -> None:
        """Change a strategy parameter now, for this process and every restart after it."""
        ...

    def arm_crash(self, *, step: Step | None = None, after: int | None = None) -> None:
        """The runner's process dies at the end of `step`, or at its `after`-th kill point."""
        ...


@dataclass(frozen=True)
class EventContext:
    world: World
    faults: FaultInjectingBackend
    node: NodeControl
    run: LiveRun
    now: datetime
    seed: int  # the run's seed: what an event draws at random comes from it


__all__ = ["EventContext", "LiveRun"]
