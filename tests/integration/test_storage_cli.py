"""`harness run --out` and `harness report` on the storage faults the hostile campaign
found: two runs into one directory, a full disk, temp files of killed runs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from runner.state import encode_state, open_store, to_builtins
from tests.statefiles import SmallDisk

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "scenarios/rebase-while-holding.yaml"
SNAPSHOT = ROOT / "snapshots" / "rebase-while-holding.json"
HARNESS = [sys.executable, "-m", "harness.cli"]


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    d = SmallDisk(tmp_path / "disk", 1024 * 1024).mount()
    try:
        yield d
    finally:
        d.unmount()


def test_a_second_run_into_the_same_out_fails_at_once_naming_the_first(tmp_path: Path) -> None:
    """The issue: both exited 0 and 4 of 6 left a state that cannot be loaded."""
    out = tmp_path / "out"
    first = subprocess.Popen([*HARNESS, "run", SCENARIO, "--out", str(out), "--quiet"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first.stdout is not None
    assert first.stdout.readline().startswith("fingerprint:")  # it holds the lock and is about to run
    second = subprocess.run([*HARNESS, "run", SCENARIO, "--out", str(out), "--quiet"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    still_running = first.poll() is None
    rest, first_err = first.communicate(timeout=300)
    assert second.returncode == 1, f"the second run exited {second.returncode}: {second.stderr}"
    assert still_running, "the first run ended before the second tried: the test proved nothing"
    assert second.stderr.count("\n") == 1 and f"PID {first.pid}" in second.stderr, second.stderr
    assert str(out / "state.json") in second.stderr and "Traceback" not in second.stderr
    assert second.stdout == ""
    assert first.returncode == 0, first_err
    assert (out / "snapshot.json").read_bytes() == SNAPSHOT.read_bytes()
    open_store(out / "state.json").load()


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_the_last_save(disk: SmallDisk,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """ENOSPC mid-run: exit 1, one line naming the file, no traceback, no snapshot; the state
    on disk is the run's last complete save (a prefix of the real run); with space again, a
    rerun removes what the failed one left and gives the bundled snapshot."""
    out = disk.path / "out"
    filler = disk.fill(leave=40 * 1024)  # the run needs about 90 KB
    code = main(["run", SCENARIO, "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and "No space left on device" in captured.err, captured.err
    assert str(out) in captured.err and "Traceback" not in captured.err
    assert not (out / "snapshot.json").exists()
    state = open_store(out / "state.json").load()
    expected = json.loads(SNAPSHOT.read_text())
    saved = [json.loads(json.dumps(to_builtins(s))) for s in state.stats]
    assert 0 < state.cycle < expected["outcome"]["cycles"]
    assert saved == [{k: v for k, v in s.items()} for s in expected["statistics"][: len(saved)]]
    (out / ".state.json.tmp-999999").write_bytes(b"{half")  # as a killed run leaves it
    filler.unlink()
    code = main(["run", SCENARIO, "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert (out / "snapshot.json").read_bytes() == SNAPSHOT.read_bytes()
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]


def test_a_rerun_cleans_up_what_a_killed_run_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Temp files and a generation that was never committed are removed when the next run
    takes the directory's lock; the previous state stays loadable until it is replaced."""
    out = tmp_path / "out"
    assert main(["run", SCENARIO, "--out", str(out), "--quiet"]) == 0
    before = encode_state(open_store(out / "state.json").load())
    (out / ".state.json.tmp-999999").write_bytes(b"{half")
    (out / ".snapshot.json.tmp-999999").write_bytes(b"{half")
    (out / "state.json.d" / "stats.9.jsonl").write_bytes(b"uncommitted")
    assert main(["report", str(out / "state.json"), "--out", str(tmp_path / "report")]) == 0
    assert encode_state(open_store(out / "state.json").load()) == before
    assert main(["run", SCENARIO, "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    names = sorted(p.name for p in out.iterdir())
    assert names == ["run.log", "snapshot.json", "state.json", "state.json.d", "state.json.lock"]
    assert sorted(p.name for p in (out / "state.json.d").iterdir()) == [
        "balance_updates.2.jsonl", "checks.2.jsonl", "stats.2.jsonl", "trades.2.jsonl"]
    assert (out / "snapshot.json").read_bytes() == SNAPSHOT.read_bytes()
