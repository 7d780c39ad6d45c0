"""Errors of the state store: each names the file (and the record, where one is at fault)
and reads as one line a person can act on, never a traceback.

    StateError(Exception)                        .path: the file at fault
     +-- StateFormatError(StateError, ValueError) not a state this runner reads: not JSON, another
     |    |                                       schema version or store format, a field of the wrong type
     |    +-- StateDamaged                        changed or cut after it was written: a checksum that does
     |    |                                       not match, a truncated or missing segment, a record count
     |    |                                       that disagrees, a FIFO or directory where a file belongs
     |    +-- StateInvariantError                 intact and well-formed, but the state contradicts itself
     |                                            (negative holdings, NaN, trades and positions that disagree,
     |                                            ids repeated or above their counters); .record names it
     +-- StateWriteError(StateError)              a save or an output could not be written (disk full, I/O
     |                                            error, read-only); the last complete save is kept
     +-- StateLocked(StateError)                  another process holds the state's lock; .pid is the holder

`StateFormatError` is a `ValueError` because a bad state file is bad input; the others are
not, so `except ValueError` never hides a full disk or a held lock.
"""

from __future__ import annotations


class StateError(Exception):
    """A state file that cannot be used; `str()` is the one line to print."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return self.message


class StateFormatError(StateError, ValueError):
    """A state file that is not a valid state of this schema version and store format."""


class StateDamaged(StateFormatError):
    """A state file whose bytes are not the ones its writer committed."""


class StateInvariantError(StateFormatError):
    """A state that is intact but contradicts itself; `record` names where."""

    def __init__(self, message: str, path: str | None = None, record: str | None = None) -> None:
        super().__init__(message, path)
        self.record = record


class StateWriteError(StateError):
    """Writing a state file (or an output next to it) failed; `errno` is the OS's reason."""

    def __init__(self, message: str, path: str | None = None, errno: int | None = None) -> None:
        super().__init__(message, path)
        self.errno = errno


class StateLocked(StateError):
    """Another process holds the lock of this state file (`pid`, when it could be read)."""

    def __init__(self, message: str, path: str | None = None, pid: int | None = None) -> None:
        super().__init__(message, path)
        self.pid = pid


__all__ = ["StateDamaged", "StateError", "StateFormatError", "StateInvariantError", "StateLocked", "StateWriteError"]
