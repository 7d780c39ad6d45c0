"""`files.replace(..., flush=False)`: the swap a store without fsync commits with.

The swap (renameat2 RENAME_EXCHANGE, where the platform has it) must leave exactly what
the plain rename leaves: the new bytes at the target, no temp file, the old inode gone;
anything but a regular file at the target takes the plain rename and its error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.state import files


def _listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("sync", [True, False])
def test_atomic_write_over_an_existing_file_leaves_only_the_new_bytes(tmp_path: Path, sync: bool) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    files.atomic_write(target, b"new", sync=sync)
    assert target.read_bytes() == b"new"
    assert _listing(tmp_path) == ["state.json"]


def test_the_swap_replaces_a_symlink_as_a_rename_does(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_bytes(b"kept")
    target = tmp_path / "state.json"
    target.symlink_to(tmp_path / "elsewhere")
    files.atomic_write(target, b"new", sync=False)
    assert not target.is_symlink() and target.read_bytes() == b"new"
    assert (tmp_path / "elsewhere").read_bytes() == b"kept"
    assert _listing(tmp_path) == ["elsewhere", "state.json"]


def test_a_directory_at_the_target_is_refused_not_swapped(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.mkdir()
    with pytest.raises(files.StateWriteError):
        files.atomic_write(target, b"new", sync=False)
    assert target.is_dir() and _listing(tmp_path) == ["state.json"]


def test_a_kill_at_the_rename_keeps_the_old_file(tmp_path: Path) -> None:
    """The fault seam still sees the commit as one rename, before it happens."""
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    seen: list[str] = []

    class Killed(Exception):
        pass

    def hook(op: str, path: str, fd: int | None, data: bytes | None) -> None:
        seen.append(op)
        if op == "rename":
            raise Killed

    files.fault_hook = hook
    try:
        with pytest.raises(Killed):
            files.atomic_write(target, b"new", sync=False)
    finally:
        files.fault_hook = None
    assert seen == ["write", "rename"]
    assert target.read_bytes() == b"old"
