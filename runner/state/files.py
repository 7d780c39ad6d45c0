"""The file operations of the state store and of the outputs written next to it.

Every read opens a regular file only and never blocks: a FIFO, a device or a directory
where a state file belongs is refused at once (`O_NONBLOCK`, then `fstat`), instead of
hanging on a read that no writer will ever answer. Every write goes through `write_all`,
`replace` and `truncate` here, so an OS error becomes a `StateWriteError` naming the file
and the reason (disk full, read-only, I/O error), and a test can stop the process at any
one of them (`fault_hook`).

    atomic_write(path, data)   temp file in the same directory, written, fsync'd, renamed
                               over `path`, directory fsync'd; on any error the temp file
                               is removed and `path` is untouched
"""

from __future__ import annotations

import contextlib
import errno as _errno
import functools
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from runner.state.errors import StateDamaged, StateWriteError

# A test seam: called before every write, fsync, rename, truncate and unlink the store
# makes, as hook(op, path, fd, data). A kill test arms it to SIGKILL the process at the
# Nth operation (or after writing part of `data`). None in normal operation.
FaultHook = Callable[[str, str, int | None, bytes | None], None]
fault_hook: FaultHook | None = None

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
# O_RDWR, not O_WRONLY: a FIFO opens at once (no reader needed), then fstat refuses it
_WRITE_FLAGS = os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _hook(op: str, path: Path | str, fd: int | None = None, data: bytes | None = None) -> None:
    if fault_hook is not None:
        fault_hook(op, str(path), fd, data)


def write_error(path: Path | str, exc: OSError, what: str = "cannot write") -> StateWriteError:
    reason = exc.strerror or str(exc)
    hint = "; free some space and run again" if exc.errno in (_errno.ENOSPC, _errno.EDQUOT) else ""
    return StateWriteError(f"{path}: {what}: {reason}{hint}", str(path), exc.errno)


def open_regular_stat(path: Path | str, *, write: bool = False, create: bool = False) -> tuple[int, os.stat_result]:
    """A file descriptor on `path`, which must be a regular file, and its stat; never blocks.

    O_NONBLOCK stays set: it makes opening a FIFO return at once, and it changes nothing
    for a regular file. Raises FileNotFoundError for a missing file, StateDamaged for
    anything that is not a regular file, OSError otherwise."""
    flags = _WRITE_FLAGS if write else _READ_FLAGS
    if create:
        flags |= os.O_CREAT
    fd = os.open(path, flags, 0o644)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StateDamaged(f"{path}: {_kind(st.st_mode)}, not a regular file: remove it or restore the file",
                               str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def open_regular(path: Path | str, *, write: bool = False, create: bool = False) -> int:
    return open_regular_stat(path, write=write, create=create)[0]


def read_file(path: Path | str, *, limit: int, what: str = "state file") -> bytes:
    """All of a regular file, refused (not read) when larger than `limit` bytes."""
    fd, st = open_regular_stat(path)
    try:
        size = st.st_size
        if size > limit:
            raise StateDamaged(f"{path}: {size} bytes, more than any {what} ({limit}): not a {what}", str(path))
        return read_exactly(fd, size)
    finally:
        os.close(fd)


def read_exactly(fd: int, n: int) -> bytes:
    """Up to `n` bytes from `fd` (fewer only if the file is shorter)."""
    chunks = []
    left = n
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes, path: Path | str) -> None:
    _hook("write", path, fd, data)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fsync(fd: int, path: Path | str) -> None:
    _hook("fsync", path, fd)
    os.fsync(fd)


def truncate(fd: int, length: int, path: Path | str) -> None:
    _hook("truncate", path, fd)
    os.ftruncate(fd, length)


def replace(src: Path, dst: Path, *, flush: bool = True) -> None:
    """Rename `src` over `dst` atomically. `flush=False` (a store that does not fsync):
    swap the two files (`renameat2(RENAME_EXCHANGE)`, Linux) and unlink the old one,
    where the platform can. A rename over an existing file makes ext4 (`auto_da_alloc`)
    write the new file's data out first, a heuristic for programs that do not fsync:
    ~0.2-0.8 ms a save, most of a save's cost. The swap is as atomic (any reader or a
    process killed at any instant sees the old file or the new one), so kill safety is
    the same; only that heuristic's help on power loss is given up, which a store
    without fsync never claimed. Anything but a regular file at `dst`, or a swap the
    platform or filesystem refuses, takes the plain rename (with its own errors)."""
    _hook("rename", dst)
    if not flush and _exchange(src, dst):
        return
    os.replace(src, dst)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _load_renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no glibc 2.28+
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


_renameat2 = _load_renameat2()


def _exchange(src: Path, dst: Path) -> bool:
    """Swap `src` and an existing regular file `dst`, then unlink the old one (now at
    `src`; if that fails it is a stale temp file, which the lock holder removes)."""
    if _renameat2 is None:
        return False
    try:
        if not stat.S_ISREG(os.lstat(dst).st_mode):
            return False
    except OSError:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_EXCHANGE) != 0:
        return False  # nothing happened: the plain rename says what is wrong, if anything
    with contextlib.suppress(OSError):  # after the commit: no kill point (a kill leaves a temp file)
        os.unlink(src)
    return True


def fsync_dir(path: Path) -> None:
    _hook("fsync", path)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(path: Path) -> Path:
    return _temp_path(path, os.getpid())


@functools.lru_cache(maxsize=64)
def _temp_path(path: Path, pid: int) -> Path:
    """Per target and process (a forked child has its own): a save names it every time."""
    return path.with_name(f".{path.name}.tmp-{pid}")


def write_temp(path: Path, data: bytes, *, sync: bool = True, what: str = "cannot write") -> Path:
    """`data` in a temp file beside `path`, fsync'd; removed again if anything fails."""
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            write_all(fd, data, tmp)
            if sync:
                fsync(fd, tmp)
        finally:
            os.close(fd)
    except OSError as exc:
        discard(tmp)
        raise write_error(path, exc, what) from None
    except BaseException:
        discard(tmp)
        raise
    return tmp


def commit_temp(tmp: Path, path: Path, *, sync: bool = True, what: str = "cannot write") -> None:
    """Rename a temp file of `write_temp` over `path` (and fsync the directory)."""
    try:
        replace(tmp, path, flush=sync)
        if sync:
            fsync_dir(path.parent)
    except OSError as exc:
        discard(tmp)
        raise write_error(path, exc, what) from None


def atomic_write(path: Path, data: bytes, *, sync: bool = True, what: str = "cannot write") -> None:
    """Replace `path` with `data` so that no reader ever sees a partial file."""
    path = Path(path)
    if not path.parent.is_dir():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(path.parent, exc, "cannot create the directory") from None
    commit_temp(write_temp(path, data, sync=sync, what=what), path, sync=sync, what=what)


def discard(path: Path) -> None:
    """Remove a file if it is there; never raises (used while another error is raised)."""
    if os.path.lexists(path):
        _hook("unlink", path)
    with contextlib.suppress(OSError):
        os.unlink(path)


def stale_temp_files(directory: Path) -> list[Path]:
    """Temp files of `atomic_write` in `directory` (`.NAME.tmp-PID`), for the lock holder to remove."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(directory / n for n in names if TEMP_PATTERN.match(n))


__all__ = [
    "atomic_write",
    "commit_temp",
    "discard",
    "fault_hook",
    "open_regular",
    "open_regular_stat",
    "read_exactly",
    "read_file",
    "stale_temp_files",
    "write_all",
    "write_temp",
]
