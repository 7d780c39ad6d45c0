"""One writer per state file: an exclusive `flock` on `STATE.lock` beside it.

`harness run --out DIR` holds the lock of `DIR/state.json` for the whole run and
`harness repair --apply` the lock of the file it repairs, so a second process fails at once,
naming the holder's PID, instead of interleaving its saves with the first one's. The lock
is the kernel's: it is released when the holder exits, however it dies, so a lock file
left behind by a killed process never blocks anyone. The holder writes its PID into the
lock file (the message's source); `/proc/locks` is the fallback while it has not yet.

Whoever takes the lock may then remove what dead writers left beside the state
(`runner.state.segments.remove_leftovers`): nobody else is writing there.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from runner.state.errors import StateLocked, StateWriteError
from runner.state.files import open_regular, read_exactly, write_error


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def _holder_from_proc_locks(fd: int) -> int | None:
    st = os.fstat(fd)
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks") as f:
            for line in f:
                parts = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->" marks a waiter)
                if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
                    continue
                if parts[5] == ident and parts[4].isdigit():
                    return int(parts[4])
    except OSError:
        return None
    return None


class StateLock:
    """An exclusive lock on a state file, taken without waiting (a context manager)."""

    def __init__(self, state_path: Path | str, *, purpose: str = "another harness process") -> None:
        self.state_path = Path(state_path)
        self.path = lock_path(self.state_path)
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> StateLock:
        try:
            fd = open_regular(self.path, write=True, create=True)
        except OSError as exc:
            raise write_error(self.path, exc, "cannot create the lock file") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise write_error(self.path, exc, "cannot lock") from None
            pid = self._read_pid() or _holder_from_proc_locks(fd)
            os.close(fd)
            who = f"PID {pid}" if pid else "PID unknown"
            raise StateLocked(f"{self.state_path}: in use by {self.purpose} ({who}, lock {self.path}); "
                              "wait for it to finish or use another directory", str(self.state_path), pid) from None
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:  # a full disk must not stop the lock from working: it is held
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                self.release()
                raise write_error(self.path, exc) from None
        return self

    def _read_pid(self) -> int | None:
        try:
            fd = open_regular(self.path)
        except OSError:
            return None
        try:
            text = read_exactly(fd, 32).decode(errors="replace").strip()
        finally:
            os.close(fd)
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StateLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


__all__ = ["StateLock", "StateLocked", "StateWriteError", "lock_path"]
