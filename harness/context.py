"""What an event handler may touch, and nothing more.

A handler gets an `EventContext`: the world (its contracts and harness accounts), the
node-fault switch, the crash switch, node control, and the live run (to change a
strategy parameter). It never sees the engine, so the data flow stays one way:
scenario -> harness -> runner -> chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from harness.node_control import NodeControl
from harness.node_faults import FaultInjectingBackend
from harness.world import World
from runner.errors import SimulatedCrash
from runner.steps import Step


class CrashSwitch:
    """The step hook the runner calls: raises SimulatedCrash once at the armed step."""

    def __init__(self) -> None:
        self.armed: Step | None = None
        self.cycle: int | None = None

    def arm(self, step: Step) -> None:
        self.armed = Step(step)

    def __call__(self, step: Step) -> None:
        if self.armed == step:
            self.armed = None
            raise SimulatedCrash(step, self.cycle)


class LiveRun(Protocol):
    """The running strategy as events may change it."""

    def set_parameter(self, name: str, value: Any) -> None:
        """Change a strategy parameter now, for this process and every restart after it."""
        ...


@dataclass(frozen=True)
class EventContext:
    world: World
    faults: FaultInjectingBackend
    crash: CrashSwitch
    node: NodeControl
    run: LiveRun
    now: datetime


__all__ = ["CrashSwitch", "EventContext", "LiveRun"]
