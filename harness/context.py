"""What an event handler may touch, and nothing more.

A handler gets an `EventContext`: the world (its contracts and harness accounts), the
node-fault switch, node control, the wire in front of a runner process (if any), the live run (to change a strategy parameter or arm
its death), and the run's seed. It never sees the engine, so the data flow stays one way:
scenario -> harness -> runner -> chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from harness.node_control import NodeControl
from harness.result import WithdrawalRecord
from harness.vocabulary import NodeFaultMode, WireFault
from harness.world import World
from runner.chain.methods import NodeMethod
from runner.steps import Step


class FaultControl(Protocol):
    """The switch of node faults, wherever they are injected (a backend proxy in this
    process, or the wire proxy in front of a runner process)."""

    def arm(self, mode: NodeFaultMode, calls: int, method: NodeMethod | None = None) -> None: ...

    def disarm(self) -> int:
        """Stop; returns how many armed faults were not used."""
        ...


class WireControl(Protocol):
    """The wire proxy in front of a runner process: transport faults and a lagging replica,
    for the runner's requests only (the harness talks to the node directly)."""

    def arm(self, fault: WireFault, calls: int, method: NodeMethod | None = None) -> None: ...

    def lag(self, blocks: int, method: NodeMethod | None = None, calls: int | None = None) -> None: ...


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
    faults: FaultControl
    node: NodeControl
    run: LiveRun
    now: datetime
    seed: int  # the run's seed: what an event draws at random comes from it
    wire: WireControl | None = None  # None: no wire (the runner lives in the harness's process)
    # where a withdraw event records what the vault did with it (paid, queued, refused)
    withdrawals: list[WithdrawalRecord] = field(default_factory=list)


__all__ = ["EventContext", "FaultControl", "LiveRun", "WireControl"]
