"""The hostile storage campaign: measures again what the issue measured (`make hostile`).

    python -m tests.hostile.campaign [--seed N] [--kills N] [--corruptions N] [--quick]

Rows (each a kind of attack, each trial seeded):

* kill `harness run`: SIGKILL after a seeded delay, and (with strace) at a seeded write
  or rename syscall; then the state on disk must load as one the run committed.
* kill `harness run` on anvil: SIGKILL mid-run; its anvil must die with it.
* corrupt state files: flip, zero, cut, delete or append to a seeded file at a seeded
  offset, or forge a semantic fault with valid checksums; `harness report` must refuse
  it with one line naming the file.
* concurrent runs: two `harness run` into one `--out`, started together or one mid-run;
  one must fail at once naming the other's PID, the other must give the bundled snapshot.
* full disk: `harness run` and `harness report` on a tmpfs with seeded free space; an
  error must be one line, and nothing saved may be lost or left half-written.
* kill `repair --apply`: with strace, SIGKILL at the Nth write / rename / ftruncate /
  fsync syscall for every N; without it, at every file operation through the store's
  seam; the state must load as it was or as repaired.

Columns: tried; clear error (a one-line error naming the file, where one was due);
traceback; hang (a command past its deadline); data lost (a committed state unreadable or
gone); wrong result (exit 0 on bad input, a state or snapshot unlike any the run
committed, an orphaned anvil). The goal is zeros in the last four.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from runner.state import SegmentedStateStore, encode_state, open_store  # noqa: E402
from tests.statefiles import SEGMENT_NAMES, SmallDisk, forge_live, forge_segment, segment_file  # noqa: E402

SCENARIO = "scenarios/rebase-while-holding.yaml"
SNAPSHOT = ROOT / "snapshots" / "rebase-while-holding.json"
REPAIR_SCENARIO = "scenarios/crash/crash-at-broadcast.yaml"
HARNESS = [sys.executable, "-m", "harness.cli"]
TIMEOUT = 180.0  # float-ok: seconds; a command slower than this counts as a hang
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT)}


@dataclass
class Row:
    name: str
    tried: int = 0
    clear_error: int = 0
    traceback: int = 0
    hang: int = 0
    data_lost: int = 0
    wrong_result: int = 0
    notes: list[str] = field(default_factory=list)
    facts: dict[str, int] = field(default_factory=dict)  # printed under the table

    def count(self, fact: str) -> None:
        self.facts[fact] = self.facts.get(fact, 0) + 1

    def fail(self, column: str, note: str) -> None:
        setattr(self, column, getattr(self, column) + 1)
        if len(self.notes) < 5:
            self.notes.append(note)


@dataclass
class Done:
    code: int | None  # None: it hung and was killed
    out: str
    err: str


def run(cmd: list[str], *, timeout: float = TIMEOUT, cwd: Path = ROOT) -> Done:  # float-ok
    try:
        p = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        return Done(None, _text(exc.stdout), _text(exc.stderr))
    return Done(p.returncode, p.stdout, p.stderr)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


LOG_RECORD = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+[\w.]+: ")


def one_line(err: str) -> bool:
    """One error line, besides the log records the run printed on its way (stderr gets
    WARNING and above, as `--log-level` says): the user reads the last line as the verdict."""
    lines = [line for line in err.splitlines() if line.strip() and not LOG_RECORD.match(line)]
    return len(lines) == 1 and "Traceback" not in err


def check_command(row: Row, done: Done, case: str) -> bool:
    """Count a traceback or a hang; True when the command ended on its own without one."""
    if done.code is None:
        row.fail("hang", f"{case}: no answer within {TIMEOUT}s")
        return False
    if "Traceback" in done.err or "Traceback" in done.out:
        row.fail("traceback", f"{case}: {done.err.strip().splitlines()[-1] if done.err.strip() else ''}")
        return False
    return True


# -- the reference: every state the run commits ------------------------------------------------
def committed_states(scenario: str) -> list[bytes]:
    """Run the scenario in this process, recording the state after every save (a save is
    committed when it returns); the run is deterministic, so a CLI run commits the same."""
    from harness.engine import ScenarioRun
    from harness.scenario import load_scenario

    seen: list[bytes] = []
    original = SegmentedStateStore.save

    def save(self: SegmentedStateStore, state: object) -> None:
        original(self, state)  # type: ignore[arg-type]
        seen.append(encode_state(open_store(self.path).load()))

    SegmentedStateStore.save = save  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ScenarioRun(load_scenario(ROOT / scenario), state_dir=Path(tmp)).run()
    finally:
        SegmentedStateStore.save = original  # type: ignore[method-assign]
    return seen


def verify_left_state(row: Row, out: Path, committed: set[bytes], case: str) -> None:
    """After a kill: no state yet, or one the run committed; and `harness report` agrees."""
    state = out / "state.json"
    if not state.exists():
        row.count("killed before the first save")
        return
    row.count("left a state on disk")
    try:
        loaded = encode_state(open_store(state).load())
    except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
        row.fail("data_lost", f"{case}: {type(exc).__name__}: {exc}")
        return
    if loaded not in committed:
        row.fail("wrong_result", f"{case}: a state the run never committed")
        return
    if loaded == max(committed, key=len):
        row.count("...the final one (the run had finished)")
    done = run([*HARNESS, "report", str(state), "--out", str(out / "report")])
    if check_command(row, done, case) and done.code != 0:
        row.fail("data_lost", f"{case}: report refused a committed state: {done.err.strip()}")


# -- rows ----------------------------------------------------------------------------------
def timing(work: Path) -> tuple[float, float]:  # float-ok: seconds
    """When a run's first save lands and when the run ends (seconds after its start)."""
    out = work / "timing"
    start = time.monotonic()
    p = subprocess.Popen([*HARNESS, "run", SCENARIO, "--out", str(out), "--quiet"], cwd=ROOT, env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _poll(lambda: (out / "state.json").exists() or p.poll() is not None, TIMEOUT)
    first = time.monotonic() - start
    p.wait(timeout=TIMEOUT)
    return first, time.monotonic() - start


def syscall_counts(work: Path) -> dict[str, int]:
    """How many of each syscall group a whole run makes (strace), to seed kill points within."""
    log = work / "strace.log"
    groups = {"write": "write", "rename": "rename,renameat,renameat2", "ftruncate": "ftruncate",
              "fsync": "fsync,fdatasync"}
    run(["strace", "-f", "-qq", "-o", str(log), "-e", "trace=" + ",".join(groups.values()), *HARNESS, "run",
         SCENARIO, "--out", str(work / "strace-count"), "--quiet"])
    import re

    calls = re.findall(r"^(?:\d+\s+)?(\w+)\(", log.read_text(), flags=re.M)  # "PID name(args) = ret"
    return {g: max(1, sum(calls.count(c) for c in names.split(","))) for g, names in groups.items()}


def kill_runs(rng: random.Random, n: int, committed: set[bytes], work: Path,
              window: tuple[float, float]) -> Row:  # float-ok
    row = Row("SIGKILL of `harness run` at a seeded instant")
    for i in range(n):
        out = work / f"kill-{i}"
        delay = rng.uniform(*window)  # between the first save and the end of a run
        p = subprocess.Popen([*HARNESS, "run", SCENARIO, "--out", str(out), "--quiet"], cwd=ROOT, env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=delay)  # a seeded instant: the kill lands wherever the run is by then
        except subprocess.TimeoutExpired:
            p.kill()
        p.wait(timeout=TIMEOUT)
        row.tried += 1
        verify_left_state(row, out, committed, f"kill after {delay:.2f}s")
    return row


def strace_kill_runs(rng: random.Random, n: int, committed: set[bytes], work: Path) -> Row | None:
    if shutil.which("strace") is None:
        return None
    row = Row("SIGKILL of `harness run` at a seeded write/rename (strace)")
    counts = syscall_counts(work)
    names = {"write": "write", "rename": "rename,renameat,renameat2", "ftruncate": "ftruncate",
             "fsync": "fsync,fdatasync"}
    for i in range(n):
        out = work / f"skill-{i}"
        group = rng.choice([g for g in names if counts[g] > 1])
        syscall = names[group]
        nth = rng.randint(1, counts[group])
        done = run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}", "-e",
                    f"inject={syscall}:signal=KILL:when={nth}", *HARNESS, "run", SCENARIO, "--out", str(out),
                    "--quiet"])
        row.tried += 1
        if done.code is None:
            row.fail("hang", f"{syscall}#{nth}")
            continue
        verify_left_state(row, out, committed, f"kill at {syscall}#{nth}")
    return row


def kill_anvil_runs(n: int, work: Path) -> Row:
    row = Row("SIGKILL of `harness run --backend anvil`: anvil orphaned?")
    long = work / "long.yaml"
    long.write_text((ROOT / "scenarios/many-cycles-rebalancing.yaml").read_text().replace("until: 60d", "until: 720d"))
    for _ in range(n):
        p = subprocess.Popen([*HARNESS, "run", str(long), "--backend", "anvil", "--quiet"], cwd=ROOT, env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        row.tried += 1
        anvil = _poll(lambda pid=p.pid: _children_named(pid, "anvil"), 60)  # type: ignore[misc]
        if not anvil:
            p.kill()
            p.wait()
            row.fail("hang", "anvil never started")
            continue
        p.kill()
        p.wait(timeout=TIMEOUT)
        if not _poll(lambda pid=anvil[0]: not _alive(pid), 20):  # type: ignore[misc]
            row.fail("wrong_result", f"anvil {anvil[0]} orphaned, still alive")
            with contextlib.suppress(ProcessLookupError):
                os.kill(anvil[0], signal.SIGKILL)
    return row


def corruptions(rng: random.Random, n: int, work: Path) -> Row:
    row = Row("corrupted state files (`harness report`)")
    base = work / "corrupt-base"
    done = run([*HARNESS, "run", SCENARIO, "--out", str(base), "--quiet"])
    assert done.code == 0, done.err
    state = base / "state.json"
    targets = [state] + [segment_file(state, s) for s in SEGMENT_NAMES if segment_file(state, s).exists()]
    cases: list[tuple[str, Callable[[Path], None]]] = []
    for _ in range(n):
        kind = rng.choice(["flip", "zero", "cut", "delete", "append", "fifo"])
        index = rng.randrange(len(targets))
        size = targets[index].stat().st_size
        off = rng.randrange(size)
        mask = rng.randrange(1, 256)
        cases.append((f"{kind} {targets[index].name}@{off}", _byte_damage(kind, index, off, mask)))
    cases += [(f"forged: {name}", fn) for name, fn in FORGED.items()]
    for case, damage in cases:
        copy = work / f"corrupt-{len(os.listdir(work))}"
        shutil.copytree(base, copy)
        damage(copy / "state.json")
        row.tried += 1
        done = run([*HARNESS, "report", str(copy / "state.json"), "--out", str(copy / "report")], timeout=30)
        if not check_command(row, done, case):
            continue
        # bytes appended to a segment lie past its commit: ignored by design (not so for state.json)
        benign = case.startswith("append") and not case.startswith("append state.json@")
        if benign:
            row.count("bytes appended to a segment, past its commit (loaded as committed, by design)")
        if done.code == 0 and not benign:
            row.fail("wrong_result", f"{case}: exit 0, the damage was believed")
        elif done.code == 0 and benign:
            if encode_state(open_store(copy / "state.json").load()) != encode_state(open_store(state).load()):
                row.fail("wrong_result", f"{case}: loaded a different state")
        elif one_line(done.err) and "state.json" in done.err:
            row.clear_error += 1
        else:
            row.fail("wrong_result", f"{case}: unclear error: {done.err.strip()[:200]}")
    return row


def _byte_damage(kind: str, index: int, off: int, mask: int) -> Callable[[Path], None]:
    def damage(state: Path) -> None:
        targets = [state] + [segment_file(state, s) for s in SEGMENT_NAMES if segment_file(state, s).exists()]
        path = targets[index]
        data = bytearray(path.read_bytes())
        if kind == "flip":
            data[off] ^= mask
        elif kind == "zero":
            data[off: off + 64] = bytes(len(data[off: off + 64]))
        elif kind == "cut":
            del data[off:]
        elif kind == "append":
            data += b'{"h":"00","r":{"torn'
        if kind == "delete":
            path.unlink()
        elif kind == "fifo":
            path.unlink()
            os.mkfifo(path)
        else:
            path.write_bytes(bytes(data))
    return damage


def _negate(doc: dict) -> None:  # type: ignore[type-arg]
    pos = next(iter(doc["portfolio"]["open_positions"].values()))
    pos["quantity"] = "-" + pos["quantity"]


FORGED: dict[str, Callable[[Path], None]] = {
    "negated position quantity": lambda p: forge_live(p, _negate),
    "NaN reserve": lambda p: forge_live(p, lambda d: d["portfolio"]["reserve"].update(quantity="NaN")),
    "cash from nowhere": lambda p: forge_live(p, lambda d: d["portfolio"]["reserve"].update(quantity="99999999")),
    "trade counter below a trade": lambda p: forge_live(p, lambda d: d["portfolio"].update(next_trade_id=1)),
    "duplicate statistics record": lambda p: forge_segment(p, "checks", lambda r: [*r, r[0]]),
    "NaN in a statistics row": lambda p: forge_segment(p, "stats", lambda r: [{**r[0], "nav": "NaN"}, *r[1:]]),
    "trade of another position": lambda p: forge_segment(
        p, "trades", lambda r: [{**r[0], "position_id": 99}, *r[1:]]),
    "an absurd exponent": lambda p: forge_live(p, lambda d: d["portfolio"]["reserve"].update(quantity="1E+999999")),
    "JSON nested 5000 deep": lambda p: forge_live(p, lambda d: d.update(parameters={"x": "DEEP"}),
                                                  raw=lambda b: b.replace(b'"DEEP"', b"[" * 5000 + b"]" * 5000)),
}


def concurrent(n: int, work: Path) -> Row:
    row = Row("two `harness run` into one --out")
    expected = SNAPSHOT.read_bytes()
    for i in range(n):
        out = work / f"both-{i}"
        cmd = [*HARNESS, "run", SCENARIO, "--out", str(out), "--quiet"]
        a = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if i % 2:  # the second starts once the first is under way
            assert a.stdout is not None
            a.stdout.readline()
        b = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results = []
        for p in (a, b):
            try:
                o, e = p.communicate(timeout=TIMEOUT)
                results.append(Done(p.returncode, o, e))
            except subprocess.TimeoutExpired:
                p.kill()
                results.append(Done(None, "", ""))
        row.tried += 1
        case = f"trial {i} ({'staggered' if i % 2 else 'together'})"
        if not all(check_command(row, d, case) for d in results):
            continue
        codes = sorted(d.code for d in results if d.code is not None)
        loser = next((d for d in results if d.code == 1), None)
        if codes != [0, 1] or loser is None:
            row.fail("wrong_result", f"{case}: exit codes {codes}")
            continue
        if one_line(loser.err) and "PID" in loser.err:
            row.clear_error += 1
        else:
            row.fail("wrong_result", f"{case}: unclear error: {loser.err.strip()[:200]}")
        try:
            open_store(out / "state.json").load()
        except Exception as exc:  # noqa: BLE001
            row.fail("data_lost", f"{case}: {exc}")
            continue
        if (out / "snapshot.json").read_bytes() != expected:
            row.fail("wrong_result", f"{case}: the winner's snapshot differs from the bundled one")
    return row


def full_disk(rng: random.Random, n: int, committed: set[bytes], work: Path) -> Row | None:
    row = Row("full disk (`harness run`, `harness report`)")
    expected = SNAPSHOT.read_bytes()
    for i in range(n):
        disk = SmallDisk(work / f"disk-{i}", 1024 * 1024)
        try:
            disk.mount()
        except BaseException:  # noqa: BLE001 - pytest.skip outside pytest: no tmpfs here
            return None
        try:
            leave = rng.randrange(0, 140) * 1024
            filler = disk.fill(leave=leave)
            out = disk.path / "out"
            done = run([*HARNESS, "run", SCENARIO, "--out", str(out), "--quiet"])
            row.tried += 1
            case = f"run with {leave // 1024} KiB free"
            if not check_command(row, done, case):
                continue
            if done.code == 0:
                row.count("runs that had room enough")
                if (out / "snapshot.json").read_bytes() != expected:
                    row.fail("wrong_result", f"{case}: exit 0 with a different snapshot")
            elif one_line(done.err) and "No space left on device" in done.err:
                row.clear_error += 1
                if (out / "snapshot.json").exists() and (out / "snapshot.json").read_bytes() != expected:
                    row.fail("wrong_result", f"{case}: a partial snapshot.json")
            else:
                row.fail("wrong_result", f"{case}: unclear error: {done.err.strip()[:200]}")
            verify_state_only(row, out, committed, case)
            if any(".tmp-" in p.name for p in out.glob(".*")):
                row.fail("wrong_result", f"{case}: temp files left behind")
            # a report onto a full disk: one line, no partial files
            filler.unlink()
            shutil.copytree(ROOT / "tests" / "data" / "segmented-1", disk.path / "old")
            disk.fill(leave=8 * 1024)
            done = run([*HARNESS, "report", str(disk.path / "old" / "state.json"), "--out", str(disk.path / "rep")])
            row.tried += 1
            if not check_command(row, done, "report onto a full disk"):
                continue
            partial = [p.name for p in (disk.path / "rep").glob("*")] if (disk.path / "rep").exists() else []
            if done.code == 0:
                pass
            elif one_line(done.err) and "No space left on device" in done.err:
                row.clear_error += 1
                if partial:
                    row.fail("wrong_result", f"report onto a full disk left {partial}")
            else:
                row.fail("wrong_result", f"report onto a full disk: {done.err.strip()[:200]}")
        finally:
            disk.unmount()
    return row


def verify_state_only(row: Row, out: Path, committed: set[bytes], case: str) -> None:
    state = out / "state.json"
    if not state.exists():
        return
    try:
        loaded = encode_state(open_store(state).load())
    except Exception as exc:  # noqa: BLE001
        row.fail("data_lost", f"{case}: {type(exc).__name__}: {exc}")
        return
    if loaded not in committed:
        row.fail("wrong_result", f"{case}: a state the run never committed")


def repair_kills(work: Path) -> Row:
    from harness.anvil_node import AnvilNode
    from harness.chains import GENESIS
    from harness.cli import main

    use_strace = shutil.which("strace") is not None
    row = Row("SIGKILL of `repair --apply` at every " + ("write/rename/ftruncate/fsync syscall (strace)"
                                                          if use_strace else "file operation (seam)"))
    with AnvilNode(genesis_timestamp=GENESIS) as node, contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115
        pristine = work / "repair-pristine"
        main(["run", REPAIR_SCENARIO, "--backend", "anvil", "--rpc", node.url, "--out", str(pristine),
              "--no-restart", "--quiet"])
        before = encode_state(open_store(pristine / "state.json").load())
        shutil.copytree(pristine, work / "repair-after")
        main(["repair", str(work / "repair-after" / "state.json"), "--scenario", REPAIR_SCENARIO, "--rpc", node.url,
              "--apply"])
        after = encode_state(open_store(work / "repair-after" / "state.json").load())
        repair = [*HARNESS, "repair"]
        groups = (["write,pwrite64,writev", "rename,renameat,renameat2", "ftruncate", "fsync,fdatasync"]
                  if use_strace else ["seam"])
        for group in groups:
            for nth in range(1, 400):
                case = work / f"repair-{group.split(',')[0]}-{nth}"
                shutil.copytree(pristine, case)
                args = [str(case / "state.json"), "--scenario", REPAIR_SCENARIO, "--rpc", node.url, "--apply"]
                if use_strace:
                    cmd = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={group}", "-e",
                           f"inject={group}:signal=KILL:when={nth}", *repair, *args]
                else:
                    code = (f"import sys; from tests.statefiles import kill_at; kill_at({nth}); "
                            "from harness.cli import main; sys.exit(main(sys.argv[1:]))")
                    cmd = [sys.executable, "-c", code, "repair", *args]
                done = run(cmd)
                row.tried += 1
                name = f"{group}#{nth}"
                killed = done.code in (-signal.SIGKILL, 128 + signal.SIGKILL)
                row.count("killed" if killed else "ran to the end")
                if done.code is None:
                    row.fail("hang", name)
                    break
                if "Traceback" in done.err:
                    row.fail("traceback", f"{name}: {done.err.strip().splitlines()[-1]}")
                try:
                    loaded = encode_state(open_store(case / "state.json").load())
                except Exception as exc:  # noqa: BLE001
                    row.fail("data_lost", f"{name}: {exc}")
                    continue
                if loaded not in (before, after):
                    row.fail("wrong_result", f"{name}: neither as before nor as repaired")
                elif killed:
                    row.count("...left the state as before" if loaded == before else "...left it as repaired")
                if not killed:
                    if done.code != 0 or loaded != after:
                        row.fail("wrong_result", f"{name}: exit {done.code}, repaired: {loaded == after}")
                    shutil.rmtree(case, ignore_errors=True)
                    break  # past the last such operation: every one was tried
                shutil.rmtree(case, ignore_errors=True)
    return row


# -- process-table polling (bounded) ------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    head, _, rest = text.rpartition(")")
    return [head.split("(", 1)[1], *rest.split()]


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z"


def _children_named(ppid: int, name: str) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and (st := _stat(int(e))) is not None
            and st[0] == name and st[2] == str(ppid) and st[1] != "Z"]


def _poll(cond: Callable[[], object], timeout: float) -> object:  # float-ok
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            return value
        time.sleep(0.02)
    return value


# -- the table ----------------------------------------------------------------------------------
COLUMNS = ("tried", "clear_error", "traceback", "hang", "data_lost", "wrong_result")


def table(rows: list[Row]) -> str:
    head = "| attack | tried | clear error | traceback | hang | data lost | wrong result |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.name} | " + " | ".join(str(getattr(r, c)) for c in COLUMNS) + " |")
    total = [sum(getattr(r, c) for r in rows) for c in COLUMNS]
    lines.append("| **total** | " + " | ".join(f"**{t}**" for t in total) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--corruptions", type=int, default=60)
    ap.add_argument("--concurrent", type=int, default=6)
    ap.add_argument("--disks", type=int, default=6)
    ap.add_argument("--quick", action="store_true", help="a few trials of each row")
    args = ap.parse_args()
    if args.quick:
        args.kills, args.corruptions, args.concurrent, args.disks = 4, 12, 2, 2
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="dst-hostile-"))
    rows: list[Row] = []
    t0 = time.monotonic()
    try:
        print(f"hostile storage campaign, seed {args.seed}, in {work}", flush=True)
        committed = set(committed_states(SCENARIO))
        window = timing(work)
        steps: list[Callable[[], Row | None]] = [
            lambda: kill_runs(rng, args.kills, committed, work, window),
            lambda: strace_kill_runs(rng, args.kills, committed, work),
            lambda: kill_anvil_runs(max(2, args.kills // 5), work),
            lambda: corruptions(rng, args.corruptions, work),
            lambda: concurrent(args.concurrent, work),
            lambda: full_disk(rng, args.disks, committed, work),
            lambda: repair_kills(work),
        ]
        for step in steps:
            row = step()
            if row is not None:
                rows.append(row)
                print(f"  {row.name}: {row.tried} tried", flush=True)
                for note in row.notes:
                    print(f"    ! {note}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(rows))
    print()
    for r in rows:
        if r.facts:
            print(f"- {r.name}: " + ", ".join(f"{k} {v}" for k, v in r.facts.items()))
    print(f"\n{time.monotonic() - t0:.0f} s")
    failures = sum(getattr(r, c) for r in rows for c in COLUMNS[2:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
