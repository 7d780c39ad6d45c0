"""Where a runner dies on purpose, for crash testing: a named step, or a counted point.

A kill point is any place a real process can die and leave its work half done: the
end of each tick step, before and after each node request (the request may or may not
have reached the node), and each write, fsync, rename, truncate and unlink of a state
save (the store's own file seam). `KillSwitch` counts
them; armed at a step or at "the k-th point from now", it kills the process there.
How it kills is the host's choice: SIGKILL of the process itself (a runner in its own
process), or `SimulatedCrash` raised on the spot (a runner in the harness's process).
Either way the count, and so the instant, is the same for the same scenario and seed.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from typing import NoReturn, TypeVar

from runner.chain.backend import Backend
from runner.chain.methods import NodeMethod
from runner.chain.proxy import BackendProxy
from runner.errors import SimulatedCrash
from runner.steps import Step

T = TypeVar("T")


KILLED_AT = "killed by SIGKILL at "
"""The one line a self-killing process leaves on stderr: where it died, for its host's
journal (a real kill leaves no trace; this line is the harness's own)."""


def sigkill_self(where: str) -> NoReturn:
    """Die as a killed process dies: no cleanup, no flush, no exception handler. One raw
    write to stderr first (no Python buffer involved) says where, so a process host
    journals the same kill point as a runner hosted in-process does."""
    os.write(2, f"\n{KILLED_AT}{where}\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")  # pragma: no cover


def raise_crash(where: str) -> NoReturn:
    raise SimulatedCrash(where)


class KillSwitch:
    """Counts kill points; dies at the armed step or the armed point."""

    def __init__(self, die: Callable[[str], NoReturn] = sigkill_self) -> None:
        self.die = die
        self.points = 0  # kill points passed since the process started
        self.step_armed: Step | None = None
        self._at_point: int | None = None  # die when `points` reaches this
        self._proxies: list[_KillPointBackend] = []
        self.cycle: int | None = None
        self.active = True  # counting; a host that shares its chain client counts only while the runner works

    @property
    def at_point(self) -> int | None:
        return self._at_point

    @at_point.setter
    def at_point(self, value: int | None) -> None:
        # No point armed: the request proxies step aside (a request is then no kill point
        # and not counted; `points` only ever matters relative to an arming).
        self._at_point = value
        for proxy in self._proxies:
            proxy._bypass(value is None)

    def arm(self, *, step: Step | str | None = None, after: int | None = None) -> None:
        """Die at the end of `step`, or at the `after`-th kill point from now (1 = the next)."""
        self.step_armed = Step(step) if step is not None else None
        self.at_point = self.points + after if after is not None else None

    def point(self, where: str) -> None:
        if not self.active:
            return
        self.points += 1
        if self.at_point is not None and self.points >= self.at_point:
            self.at_point = None
            self.die(where)

    def step(self, name: Step) -> None:
        """The runner's step hook: each step's end is a kill point."""
        if self.step_armed == name:
            self.step_armed = None
            self.die(str(name))
        self.point(f"step {name}")

    def watch_files(self) -> None:
        """Make every write, fsync, rename, truncate and unlink of the state files a kill
        point (through the store's own file seam, `runner.state.files.fault_hook`)."""
        from runner.state import files

        def hook(op: str, path: str, fd: int | None, data: bytes | None) -> None:
            self.point(f"{op} {_stable_name(os.path.basename(path))}")

        files.fault_hook = hook

    def around(self, backend: Backend) -> Backend:
        """`backend` with a kill point before and after every node request."""
        proxy = _KillPointBackend(backend, self)
        self._proxies.append(proxy)
        proxy._bypass(self.at_point is None)
        return proxy


_SEGMENT = re.compile(r"^(?P<kind>[a-z_]+)\.\d+\.jsonl$")


def _stable_name(name: str) -> str:
    """A state file's name without the writer's PID or the segments' generation
    (`.state.json.tmp-1234` -> `.state.json.tmp`, `stats.3.jsonl` -> `stats.jsonl`): where a
    run dies is part of its journal, which must depend on neither the process id nor what
    an earlier run left in the directory."""
    from runner.state.files import TEMP_PATTERN

    found = TEMP_PATTERN.match(name)
    if found:
        name = f".{found['name']}.tmp"
    segment = _SEGMENT.match(name)
    return f"{segment['kind']}.jsonl" if segment else name


class _KillPointBackend(BackendProxy):
    def __init__(self, inner: Backend, switch: KillSwitch) -> None:
        super().__init__(inner)
        self.switch = switch

    def _request(self, method: NodeMethod, thunk: Callable[[], T]) -> T:
        self.switch.point(f"before {method}")
        out = thunk()
        self.switch.point(f"after {method}")
        return out


__all__ = ["KILLED_AT", "KillSwitch", "raise_crash", "sigkill_self"]
