"""Atomic state files: a run killed at any instant leaves the last complete state.

Write to a temporary file in the same directory, fsync it, rename over the target,
fsync the directory. A reader sees the old file or the new one, never a torn one
(`runner.state.files.atomic_write`).

`StateStore` keeps the whole state in one pretty-printed JSON file, without a checksum:
for tests and for exporting a state to read by eye; a load still checks every invariant
(`runner.state.integrity`). Runs use `SegmentedStateStore` (checksummed, incremental).
"""

from __future__ import annotations

import os
from pathlib import Path

from runner.state import files
from runner.state.errors import StateFormatError
from runner.state.files import atomic_write
from runner.state.integrity import in_file, verify_state
from runner.state.serialization import decode_state, encode_state
from runner.state.state import State

MAX_STATE_BYTES = 1 << 30  # a live state file larger than this is refused unread


class StateStore:
    """Where a strategy's state lives between cycles and across restarts."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.saves = 0


    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> State:
        source = str(self.path)
        try:
            data = files.read_file(self.path, limit=MAX_STATE_BYTES)
        except FileNotFoundError:
            raise StateFormatError(f"{source}: no such state file", source) from None
        except OSError as exc:
            raise StateFormatError(f"{source}: cannot read: {exc.strerror or exc}", source) from None
        state = decode_state(data, source)
        verify_state(state, in_file(source), source)
        return state

    def save(self, state: State) -> None:
        self.saves += 1
        atomic_write(self.path, encode_state(state, pretty=True), sync=self.fsync)


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


__all__ = ["MAX_STATE_BYTES", "MemoryStateStore", "StateStore", "atomic_write"]
