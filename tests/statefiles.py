"""Test helpers for state files: a state with every kind of record, saved in several
saves, and a forger that rewrites records *with valid checksums*, so an invariant check
can be shown to catch what the checksums cannot (a state written by a faulty runner, or
by someone who recomputed the hashes)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner.state import (
    AccountingCheck,
    AccountingRow,
    BalanceUpdate,
    BalanceUpdateCause,
    CheckKind,
    CycleStatistics,
    MismatchPolicy,
    SegmentedStateStore,
    State,
    TradingPosition,
    Verdict,
    files,
)
from runner.state.integrity import chain_next, chain_seed, record_line, seal, split_record_line

D = Decimal
SEGMENT_NAMES = ("stats", "checks", "balance_updates", "closed_positions", "trades")


def _update(state: State, cause: BalanceUpdateCause, asset: str, qty: str, ts: datetime,
            pos: TradingPosition | None = None) -> None:
    p = state.portfolio
    old = p.reserve.quantity if pos is None else pos.quantity
    n = p.next_balance_update_id
    p.add_balance_update(BalanceUpdate(
        balance_update_id=0, cause=cause, asset=asset, quantity=D(qty), old_balance=old,
        new_balance=old + D(qty), block_number=10 + n, timestamp=ts, event_key=f"0x{n:02x}:0"), pos)


def _check(state: State, ts: datetime) -> None:
    row = AccountingRow("USDC", "0x" + "11" * 20, D("1"), D("1"), D(0), D(0), D("0.000001"), Verdict.ok)
    state.accounting_checks.append(AccountingCheck(
        len(state.accounting_checks) + 1, CheckKind.post_execution, state.cycle, ts, 10 + state.cycle,
        MismatchPolicy.report, [row]))


def _stat(state: State, ts: datetime) -> None:
    p = state.portfolio
    state.stats.append(CycleStatistics(state.cycle, ts, p.nav(), p.cash(), p.positions_value(), len(p.open_positions)))


def rich_states(t0: datetime) -> list[State]:
    """Snapshots (deep copies) of one state after each of its cycles: deposits, buys, a
    rebase, a partial sell, a failed trade, a repaired trade with its counter entry, a
    closed position, a buy still in flight, accounting checks and statistics rows."""
    import copy

    s = State.new("rich", "USDC", t0, 6)
    p = s.portfolio
    out = []

    def cycle(days: int) -> datetime:
        s.cycle += 1
        return t0 + timedelta(days=days)

    ts = cycle(0)
    _update(s, BalanceUpdateCause.deposit, "USDC", "100000", ts)
    weth = p.open_position("WETH/USDC", "WETH", ts)
    t = p.create_trade(weth, ts, D("10"), D("20000"), D("2000"))
    p.start_trade(t, ts)
    p.settle_success(t, ts, D("9.97"), D("20000"), D("60"))
    weth.valuation_price = D("2000")
    _check(s, ts)
    _stat(s, ts)
    out.append(copy.deepcopy(s))

    ts = cycle(1)
    _update(s, BalanceUpdateCause.rebase, "WETH", "0.0997", ts, weth)
    wbtc = p.open_position("WBTC/USDC", "WBTC", ts)
    t = p.create_trade(wbtc, ts, D("0.5"), D("20000"), D("40000"))
    p.start_trade(t, ts)
    p.settle_success(t, ts, D("0.499"), D("20000"), D("60"))
    failed = p.create_trade(weth, ts, D("1"), D("2000"), D("2000"))
    p.start_trade(failed, ts)
    p.settle_failure(failed, ts, "SLIPPAGE")
    _check(s, ts)
    _stat(s, ts)
    out.append(copy.deepcopy(s))

    ts = cycle(2)
    t = p.create_trade(weth, ts, D("-2"), D("4000"), D("2000"))
    p.start_trade(t, ts)
    p.settle_success(t, ts, D("-2"), D("3990"), D("12"))
    t = p.create_trade(wbtc, ts, D("-0.499"), D("19900"), D("40000"))
    p.start_trade(t, ts)
    p.settle_success(t, ts, D("-0.499"), D("19880"), D("60"))
    p.close_position(wbtc, ts, None)
    lost = p.create_trade(weth, ts, D("1"), D("2000"), D("2000"))
    p.start_trade(lost, ts)
    p.repair_trade(lost, ts, "never reached the chain")
    s.repaired_trade_ids.append(lost.trade_id)
    _update(s, BalanceUpdateCause.redemption, "USDC", "-1000", ts)
    _check(s, ts)
    _stat(s, ts)
    out.append(copy.deepcopy(s))

    ts = cycle(3)
    steth = p.open_position("stETH/USDC", "stETH", ts)
    pending = p.create_trade(steth, ts, D("1"), D("2000"), D("2000"))
    p.start_trade(pending, ts)  # in flight: its capital has left the reserve
    _check(s, ts)
    _stat(s, ts)
    out.append(copy.deepcopy(s))
    return out


def save_rich_state(path: Path, t0: datetime) -> State:
    """The rich state saved cycle by cycle into one store (so segments hold several
    records each, appended across saves); returns the last state."""
    store = SegmentedStateStore(path, fsync=False)
    states = rich_states(t0)
    for state in states:
        store.save(state)
    return states[-1]


# -- the forger -----------------------------------------------------------------------------
def read_live(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    return json.loads(raw)


Raw = Callable[[bytes], bytes]


def _identity(data: bytes) -> bytes:
    return data


def _write_live(path: Path, doc: dict[str, Any], raw: Raw = _identity) -> None:
    doc = {k: v for k, v in doc.items() if k != "sha256"}
    body = raw(json.dumps(doc, separators=(",", ":")).encode())
    path.write_bytes(seal(body))


def forge_live(path: Path, edit: Callable[[dict[str, Any]], None], raw: Raw = _identity) -> None:
    """Edit the live file's state document (JSON) and reseal it: a valid checksum. `raw`
    rewrites the encoded bytes too (for what Python's json cannot write, e.g. deep nesting)."""
    doc = read_live(path)
    edit(doc["state"])
    _write_live(path, doc, raw)


def segment_file(path: Path, name: str) -> Path:
    gen = read_live(path)["generation"]
    return path.with_name(path.name + ".d") / f"{name}.{gen}.jsonl"


def forge_segment(path: Path, name: str, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                  raw: Raw = _identity) -> None:
    """Rewrite a segment's committed records through `edit` (a list of JSON records) and
    recompute every checksum: the chain, and the live file's length, count, tip and seal."""
    doc = read_live(path)
    gen = doc["generation"]
    seg = segment_file(path, name)
    length = doc["segments"][name][0]
    lines = seg.read_bytes()[:length].split(b"\n")[:-1]
    records = [json.loads(split_record_line(line)[1]) for line in lines]  # type: ignore[index]
    new = edit(records)
    h = chain_seed(name, gen)
    out = []
    for record in new:
        data = raw(json.dumps(record, separators=(",", ":")).encode())
        h = chain_next(h, data)
        out.append(record_line(h, data))
    blob = b"".join(out)
    seg.write_bytes(blob)
    doc["segments"][name] = [len(blob), len(new), h.hex()]
    _write_live(path, doc)


# -- a seam that kills the process at its Nth file operation -------------------------------
def kill_at(n: int, *, torn: bool = False, ops: tuple[str, ...] = ("write", "fsync", "truncate", "rename",
                                                                    "unlink")) -> Callable[[], int]:
    """Arm runner.state.files.fault_hook: SIGKILL this process at its Nth store operation
    (with `torn`, a write first writes half its bytes). Returns a counter of operations seen."""
    seen = [0]

    def hook(op: str, path: str, fd: int | None, data: bytes | None) -> None:
        if op not in ops:
            return
        seen[0] += 1
        if seen[0] == n:
            if torn and op == "write" and fd is not None and data:
                os.write(fd, data[: max(1, len(data) // 2)])
            os.kill(os.getpid(), signal.SIGKILL)

    files.fault_hook = hook
    return lambda: seen[0]


def count_ops() -> Callable[[], list[tuple[str, str]]]:
    """Arm the seam to record every operation instead (op, file name)."""
    log: list[tuple[str, str]] = []

    def hook(op: str, path: str, fd: int | None, data: bytes | None) -> None:
        log.append((op, os.path.basename(path)))

    files.fault_hook = hook
    return lambda: log


# -- a small disk that fills up ------------------------------------------------------------
class SmallDisk:
    """A tmpfs of `size` bytes mounted at `path` (root only), to fill up for real ENOSPC."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    def mount(self) -> SmallDisk:
        import subprocess

        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs", str(self.path)],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            import pytest

            pytest.skip(f"cannot mount a tmpfs for a real full disk (needs root): {done.stderr.strip()}")
        return self

    def unmount(self) -> None:
        import subprocess

        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=30)

    def fill(self, leave: int = 0) -> Path:
        """Fill the disk up, leaving about `leave` bytes free; returns the filler file."""
        filler = self.path / "filler"
        with open(filler, "ab") as f:
            while True:
                free = os.statvfs(self.path).f_bavail * os.statvfs(self.path).f_frsize
                if free <= leave:
                    break
                try:
                    f.write(b"\0" * max(1, min(free - leave, 1 << 20)))
                    f.flush()
                except OSError:
                    break
        return filler

    def free(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize


def save_stream(path: str, n: int, torn: bool) -> int:
    """(Run in a fork server child.) Save the rich states one by one, killed at the Nth file
    operation after the first save; each completed save's cycle is appended to PATH.progress."""
    from tests.conftest import T0

    states = rich_states(T0)
    store = SegmentedStateStore(path)
    progress = Path(path + ".progress")
    store.save(states[0])
    progress.write_text(f"{states[0].cycle}\n")
    kill_at(n, torn=torn)
    for s in states[1:]:
        store.save(s)
        with open(progress, "a") as f:
            f.write(f"{s.cycle}\n")
    files.fault_hook = None
    return states[-1].cycle


def fast_dir(fallback: Path) -> Path:
    """A fresh directory on a RAM file system when there is one (fsync costs nothing
    there, and a kill test fsyncs a great deal), else `fallback`. The caller removes it."""
    import tempfile

    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="dst-kill-", dir=shm))
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


# -- repair --apply in a fork server ----------------------------------------------------------
def cache_derived_universes() -> bool:
    """(Run in the fork server itself.) Deriving a scenario's universe deploys it on a
    scratch chain; every child would repeat it. Cache it per scenario file."""
    import harness.repair_cli as repair_cli

    original = repair_cli.derive_universe
    cache: dict[str, Any] = {}

    def derive(scenario: Any) -> Any:
        key = scenario.source.path
        if key not in cache:
            cache[key] = original(scenario)
        return cache[key]

    repair_cli.derive_universe = derive  # type: ignore[assignment]
    return True


def repair_apply(state: str, scenario: str, rpc: str, n: int, torn: bool) -> int:
    """(Run in a fork server child.) `harness repair --apply`, killed at the Nth file
    operation when n > 0; returns its exit code otherwise."""
    import contextlib
    import io

    from harness.cli import main

    if n > 0:
        kill_at(n, torn=torn)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(["repair", state, "--scenario", scenario, "--rpc", rpc, "--apply"])


def repair_ops(state: str, scenario: str, rpc: str) -> list[tuple[str, str]]:
    """(Run in a fork server child.) The file operations of one `repair --apply`, in order."""
    import contextlib
    import io

    from harness.cli import main

    log = count_ops()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["repair", state, "--scenario", scenario, "--rpc", rpc, "--apply"]) == 0
    return log()
