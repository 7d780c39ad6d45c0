"""Atomic state files: a run killed at any instant leaves the last complete state.

Write to a temporary file in the same directory, fsync it, rename over the target,
fsync the directory. A reader sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from runner.state.serialization import decode_state, encode_state
from runner.state.state import State


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class StateStore:
    """Where a strategy's state lives between cycles and across restarts."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.saves = 0
        # Called at each point of a save where a killed process would leave it half done
        # (crash tests: runner/killpoints.py); None in production.
        self.kill_point: Callable[[str], None] | None = None

    def _point(self, where: str) -> None:
        if self.kill_point is not None:
            self.kill_point(where)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> State:
        return decode_state(self.path.read_bytes(), str(self.path))

    def save(self, state: State) -> None:
        self.saves += 1
        data = encode_state(state, pretty=True)
        if self.fsync:
            atomic_write(self.path, data)
        else:
            tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, self.path)


class MemoryStateStore(StateStore):
    """A store that keeps the last saved bytes in memory (tests, benchmarks)."""

    def __init__(self) -> None:
        super().__init__(os.devnull)
        self.data: bytes | None = None

    def exists(self) -> bool:
        return self.data is not None

    def load(self) -> State:
        assert self.data is not None
        return decode_state(self.data, "<memory>")

    def save(self, state: State) -> None:
        self.saves += 1
        self.data = encode_state(state)
