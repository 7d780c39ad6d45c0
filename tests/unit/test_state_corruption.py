"""Every kind of state file flipped, cut and deleted at many offsets: each damage is one
line naming the file (and the record, in a segment), never a traceback, never a state
that loads different from the one saved."""

from __future__ import annotations

import random
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from harness.cli import main
from runner.state import StateError, encode_state, open_store
from tests.statefiles import SEGMENT_NAMES, save_rich_state, segment_file

OFFSETS = 24  # per file and kind of damage, spread over the file (first and last byte included)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    from tests.conftest import T0

    path = tmp_path_factory.mktemp("pristine") / "state.json"
    save_rich_state(path, T0)
    return path, encode_state(open_store(path).load())


def _files(state: Path) -> list[tuple[str, Path]]:
    return [("live", state)] + [(name, segment_file(state, name)) for name in SEGMENT_NAMES]


def _offsets(size: int, rng: random.Random) -> list[int]:
    picks = {0, size - 1} | {rng.randrange(size) for _ in range(OFFSETS - 2)}
    return sorted(picks)


def _damages(pristine: Path) -> list[tuple[str, str, str, int, int]]:
    """(case id, file kind, damage, offset, xor mask), seeded."""
    rng = random.Random(20261125)
    out = []
    for kind, path in _files(pristine):
        size = path.stat().st_size
        for off in _offsets(size, rng):
            out.append((f"{kind}-flip-{off}", kind, "flip", off, rng.randrange(1, 256)))
        for off in _offsets(size, rng):
            out.append((f"{kind}-cut-{off}", kind, "cut", off, 0))
        out.append((f"{kind}-delete", kind, "delete", 0, 0))
    return out


def _damage(path: Path, how: str, off: int, mask: int) -> None:
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[off] ^= mask
    else:
        del data[off:]
    path.write_bytes(bytes(data))


def test_every_damage_is_one_line_naming_the_file(pristine: tuple[Path, bytes], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`harness report` on each damaged copy: exit 1, one line on stderr that names the
    damaged file (and its record for a segment's record bytes), no report written."""
    source, _ = pristine
    cases = _damages(source)
    assert len(cases) > 250
    failures = []
    for case, kind, how, off, mask in cases:
        work = tmp_path / case
        shutil.copytree(source.parent, work)
        state = work / "state.json"
        target = dict(_files(state))[kind]
        _damage(target, how, off, mask)
        code = main(["report", str(state), "--out", str(work / "report")])
        err = capsys.readouterr().err
        named = str(target) if how != "delete" or kind != "live" else str(state)
        problems = []
        if code != 1:
            problems.append(f"exit {code}")
        if err.count("\n") != 1 or "Traceback" in err:
            problems.append("not one line")
        if named not in err:
            problems.append("does not name the file")
        if kind != "live" and how == "flip" and not re.search(r"record \d+ \(line \d+\)", err):
            problems.append("does not name the record")
        if (work / "report").exists():
            problems.append("wrote a report")
        if problems:
            failures.append(f"{case}: {', '.join(problems)}: {err.strip()}")
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("kind", SEGMENT_NAMES)
def test_bytes_beyond_the_commit_are_ignored_then_cut(pristine: tuple[Path, bytes], tmp_path: Path,
                                                      kind: str, t0: datetime) -> None:
    """A save that died after appending leaves bytes past the committed length: the state
    loads exactly as committed, and the next save cuts them off."""
    source, expected = pristine
    shutil.copytree(source.parent, tmp_path / "s")
    state = tmp_path / "s" / "state.json"
    segment = segment_file(state, kind)
    with open(segment, "ab") as f:
        f.write(b'{"h":"00","r":{"torn": tru')
    store = open_store(state)
    loaded = store.load()
    assert encode_state(loaded) == expected
    committed = segment.stat().st_size - len(b'{"h":"00","r":{"torn": tru')
    store.save(loaded)
    assert segment.stat().st_size == committed
    assert encode_state(open_store(state).load()) == expected


def test_a_fifo_or_directory_in_place_of_a_file_is_refused_at_once(pristine: tuple[Path, bytes],
                                                                   tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: the store never blocks on one."""
    import os
    import threading

    source, _ = pristine
    outcomes = {}
    for kind, _path in _files(source):
        for what in ("fifo", "dir"):
            work = tmp_path / f"{kind}-{what}"
            shutil.copytree(source.parent, work)
            target = dict(_files(work / "state.json"))[kind]
            target.unlink()
            if what == "fifo":
                os.mkfifo(target)
            else:
                target.mkdir()
            result: list[BaseException | None] = []

            def load(path: Path, result: list[BaseException | None]) -> None:
                try:
                    open_store(path).load()
                    result.append(None)
                except BaseException as exc:  # noqa: BLE001 - inspected below
                    result.append(exc)

            t = threading.Thread(target=load, args=(work / "state.json", result), daemon=True)
            t.start()
            t.join(timeout=10)
            assert result, f"{kind} as a {what}: the load blocked"
            outcomes[(kind, what)] = result[0]
    for (kind, what), exc in outcomes.items():
        assert isinstance(exc, StateError), (kind, what, exc)
        assert ("a FIFO" if what == "fifo" else "a directory") in str(exc), str(exc)
