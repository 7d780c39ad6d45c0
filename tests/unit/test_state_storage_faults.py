"""Locks, full disks and temp files: nothing saved is lost when the disk fills up or two
processes collide, and every failure is one line naming the file."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from harness.report import build_report_from_state, write_report
from runner.state import (
    CycleStatistics,
    SegmentedStateStore,
    StateDamaged,
    StateLock,
    StateLocked,
    StateWriteError,
    atomic_write,
    encode_state,
    open_store,
    remove_leftovers,
)
from tests.forkserver import ForkServer
from tests.statefiles import SmallDisk, fast_dir, rich_states, save_rich_state

HOLDER = textwrap.dedent("""
    import sys
    from runner.state import StateLock
    lock = StateLock(sys.argv[1]).acquire()
    print("held", flush=True)
    sys.stdin.read()
""")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    d = SmallDisk(tmp_path / "disk", 256 * 1024).mount()
    try:
        yield d
    finally:
        d.unmount()


def _holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


class TestLock:
    def test_a_second_writer_fails_at_once_naming_the_holder(self, tmp_path: Path) -> None:
        path = tmp_path / "state.json"
        holder = _holder(path)
        try:
            with pytest.raises(StateLocked) as info:
                StateLock(path).acquire()
            assert info.value.pid == holder.pid
            assert f"PID {holder.pid}" in str(info.value) and "\n" not in str(info.value)
        finally:
            holder.kill()
            holder.wait(timeout=10)
        with StateLock(path) as lock:  # a killed holder's lock is gone with it
            assert lock.held

    def test_the_holder_is_found_before_it_wrote_its_pid(self, tmp_path: Path) -> None:
        """Between taking the lock and writing its PID the holder is found in /proc/locks."""
        path = tmp_path / "state.json"
        code = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); " \
               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"
        holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "state.json.lock")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(StateLocked, match=f"PID {holder.pid}"):
                StateLock(path).acquire()
        finally:
            holder.kill()
            holder.wait(timeout=10)

    def test_one_process_cannot_take_its_own_lock_twice(self, tmp_path: Path) -> None:
        with StateLock(tmp_path / "state.json"), pytest.raises(StateLocked, match=f"PID {os.getpid()}"):
            StateLock(tmp_path / "state.json").acquire()

    def test_a_fifo_as_lock_file_is_refused_not_waited_on(self, tmp_path: Path) -> None:
        os.mkfifo(tmp_path / "state.json.lock")
        with pytest.raises(StateDamaged, match="a FIFO"):
            StateLock(tmp_path / "state.json").acquire()


class TestFullDisk:
    @pytest.mark.parametrize("leave_pages", [0, 1, 2, 3, 5, 8])
    def test_a_save_on_a_full_disk_keeps_the_last_complete_save(self, disk: SmallDisk, t0: datetime,
                                                                 leave_pages: int) -> None:
        """ENOSPC at whichever write the free space runs out: one line, the last save intact,
        no temp file, the segment cut back; with space again the next save succeeds."""
        path = disk.path / "run" / "state.json"
        states = rich_states(t0)
        store = SegmentedStateStore(path)
        store.save(states[0])
        committed = encode_state(open_store(path).load())
        filler = disk.fill(leave=leave_pages * 4096)
        big = states[-1]
        big.parameters["pad"] = "x" * 64 * 1024  # more than is left, whatever is left
        for i in range(200):
            big.stats.append(CycleStatistics(100 + i, t0 + timedelta(days=i), Decimal(i), Decimal(i), Decimal(0), 0))
        with pytest.raises(StateWriteError) as info:
            store.save(big)
        message = str(info.value)
        assert "No space left on device" in message and str(disk.path / "run") in message
        assert "keeps the last complete save" in message and "\n" not in message
        assert info.value.errno == errno.ENOSPC
        assert encode_state(open_store(path).load()) == committed
        assert not [p for p in (disk.path / "run").iterdir() if ".tmp-" in p.name]
        filler.unlink()
        store.save(big)
        assert encode_state(open_store(path).load()) == encode_state(big)

    def test_a_full_disk_never_leaves_a_partial_report(self, disk: SmallDisk, t0: datetime) -> None:
        """The four report files are all written before any replaces its old version."""
        state = rich_states(t0)[-1]
        out = disk.path / "report"
        first = write_report(build_report_from_state(state, "first"), out)
        before = [p.read_bytes() for p in first]
        filler = disk.fill(leave=4096)
        state.stats = state.stats * 200  # a bigger report than the space left
        with pytest.raises(StateWriteError, match="No space left on device"):
            write_report(build_report_from_state(state, "second"), out)
        assert [p.read_bytes() for p in first] == before
        assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in first)
        filler.unlink()

    def test_atomic_write_on_a_full_disk_keeps_the_old_file(self, disk: SmallDisk) -> None:
        target = disk.path / "snapshot.json"
        atomic_write(target, b'{"old": true}\n')
        filler = disk.fill()
        with pytest.raises(StateWriteError, match=r"snapshot\.json: cannot write: No space left on device"):
            atomic_write(target, b"{" + b" " * 100_000 + b"}")
        assert target.read_bytes() == b'{"old": true}\n'
        assert sorted(p.name for p in disk.path.iterdir()) == ["filler", "snapshot.json"]
        filler.unlink()


class TestLeftovers:
    def test_the_lock_holder_removes_temp_files_and_unreferenced_segments(self, tmp_path: Path,
                                                                          t0: datetime) -> None:
        """What killed writers left: `.state.json.tmp-PID`, a generation never committed."""
        path = tmp_path / "state.json"
        save_rich_state(path, t0)
        before = encode_state(open_store(path).load())
        (tmp_path / ".state.json.tmp-999999").write_bytes(b"{half")
        (tmp_path / ".snapshot.json.tmp-999998").write_bytes(b"{half")
        stray = tmp_path / "state.json.d" / "stats.7.jsonl"
        stray.write_bytes(b"uncommitted")
        with StateLock(path):
            removed = remove_leftovers(path)
        assert sorted(p.name for p in removed) == [".snapshot.json.tmp-999998", ".state.json.tmp-999999",
                                                   "stats.7.jsonl"]
        assert encode_state(open_store(path).load()) == before

    def test_nothing_is_removed_beside_a_damaged_state(self, tmp_path: Path, t0: datetime) -> None:
        path = tmp_path / "state.json"
        save_rich_state(path, t0)
        path.write_bytes(path.read_bytes()[:-5])
        stray = tmp_path / "state.json.d" / "stats.7.jsonl"
        stray.write_bytes(b"evidence")
        remove_leftovers(path)
        assert stray.exists()


def test_a_killed_save_stream_always_loads_a_complete_save(tmp_path: Path, t0: datetime) -> None:
    """SIGKILL at each file operation of a stream of saves (write, torn write, fsync,
    truncate, rename): the files always load, as the last committed save or the next."""
    states = rich_states(t0)
    expected = {s.cycle: encode_state(s) for s in states}
    kills = 0
    work = fast_dir(tmp_path / "work")
    with ForkServer(["tests.statefiles", "tests.conftest"]) as server:
        for n in range(1, 60):
            for mode in ("clean", "torn"):
                path = work / f"{n}-{mode}" / "state.json"
                outcome = server.call("tests.statefiles:save_stream", str(path), n, mode == "torn")
                done = [int(x) for x in Path(f"{path}.progress").read_text().split()]
                loaded = encode_state(open_store(path).load())
                if outcome.killed:
                    kills += 1
                    assert loaded in (expected[done[-1]], expected.get(done[-1] + 1)), (n, mode)
                else:
                    assert outcome.error is None and outcome.result == states[-1].cycle, outcome
                    assert loaded == expected[states[-1].cycle]
            if not outcome.killed:
                break  # past the last operation: every one was tried
    shutil.rmtree(work, ignore_errors=True)
    assert kills >= 20


def test_a_reader_follows_a_writer_that_starts_a_new_generation(tmp_path: Path, t0: datetime,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`harness report` takes no lock: if a new run commits its first save (and removes the
    old generation) between the reader's read of state.json and of the segments, the reader
    reads the new state.json and loads that, instead of calling the state damaged."""
    path = tmp_path / "state.json"
    save_rich_state(path, t0)
    newer = rich_states(t0)[1]
    original = SegmentedStateStore._read_committed
    interleaved = []

    def read_committed(self: SegmentedStateStore, seg: Path, length: int, count: int,
                       start: int = 0) -> tuple[bytes, int]:
        if not interleaved:
            interleaved.append(True)
            SegmentedStateStore(path).save(newer)  # another process, as it were: generation 2
        return original(self, seg, length, count, start)

    monkeypatch.setattr(SegmentedStateStore, "_read_committed", read_committed)
    loaded = open_store(path).load()
    assert interleaved and encode_state(loaded) == encode_state(newer)
