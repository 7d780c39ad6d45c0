"""5: memory and state-save cost over a 3,650-cycle (10-year) daily run on eth-tester (and revm, 7).

The run happens in a child process (`python -m bench.memory --child ...`) so its peak
RSS is its own. The child samples at given cycles, from a wrapper around
StateStore.save (the first save of a cycle with `state.cycle == N` is right after the
cycle's trading): current and peak RSS, Python object count, the state's size, what
the embedded chain holds (py-evm's in-memory key-value store, receipts, logs), the
in-run save's cost, and the cost of saving that state into a new store of the same class
(the whole history) and again (what changed), with and without fsync. It also stamps the time of every cycle, so the per-cycle cost can be compared
between the first and the last year.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

from bench.clock import median, now

REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM of its own address space.

    getrusage's ru_maxrss is not used for the headline: Linux carries the parent's RSS at
    fork time over into a child's ru_maxrss across exec, so a child started by a bench
    process that already ran the reference workload would report the parent's peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return getrusage_peak_mb()


def getrusage_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def deep_size_mb(root: Any) -> float:
    """sys.getsizeof summed over everything reachable from `root` (each object once)."""
    seen: set[int] = set()
    todo = [root]
    total = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            todo.extend(obj.keys())
            todo.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            todo.extend(obj)
        elif not isinstance(obj, str | bytes | int | float | bool):
            d = getattr(obj, "__dict__", None)
            if d is not None:
                todo.append(d)
            for slot in getattr(type(obj), "__slots__", ()) or ():
                if hasattr(obj, slot):
                    todo.append(getattr(obj, slot))
    return total / 2**20


def _chain_held(pool: Any) -> dict[str, Any]:
    revm = getattr(pool, "_revm", None)
    if revm is not None:  # what the revm backend keeps in Python beside pyrevm's database
        return {"receipts": len(revm._receipts), "logs": sum(len(b.logs) for b in revm._blocks),
                "blocks": len(revm._blocks), "mirror_accounts": len(revm._accounts),
                "mirror_slots": len(revm._storage), "undo_blocks": len(revm._undo),
                "block_number": revm.block_number()}
    backend = getattr(pool, "_ethtester", None)
    out: dict[str, Any] = {}
    if backend is None:
        return out
    out["receipts"] = len(getattr(backend, "_receipts", ()))
    out["logs"] = len(getattr(backend, "_logs", ()))
    try:
        kv = backend._chain.chaindb.db.wrapped_db.kv_store
        out["pyevm_db_keys"] = len(kv)
        out["pyevm_db_mb"] = round(sum(len(k) + len(v) for k, v in kv.items()) / 2**20, 2)
    except AttributeError:
        pass
    with suppress(Exception):  # best effort
        out["block_number"] = int(backend._chain.get_canonical_head().block_number)
    return out


def _time_save(store_cls: type, state: Any, tmp: Path) -> dict[str, float]:
    """One state's save cost: encoding it whole, a first save into a new store of the run's
    class (writes everything), a repeat save (writes what changed: nothing), with and
    without fsync."""
    from runner.state.serialization import encode_state

    enc = []
    for _ in range(3):
        t = now()
        encode_state(state)
        enc.append(now() - t)
    out = {"encode_whole_state_ms": round(median(enc) * 1000, 3)}
    for fsync in (False, True):
        tag = "fsync" if fsync else "no_fsync"
        target = tmp / f"probe-{tag}" / "state.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        store = store_cls(target, fsync=fsync)
        t = now()
        store.save(state)
        out[f"first_save_{tag}_ms"] = round((now() - t) * 1000, 3)
        again = []
        for _ in range(3):
            t = now()
            store.save(state)
            again.append(now() - t)
        out[f"repeat_save_{tag}_ms"] = round(median(again) * 1000, 3)
        shutil.rmtree(target.parent, ignore_errors=True)
    return out


def _disk_kb(state_path: Path) -> float:
    """The state file plus its segment directory, if the store keeps one."""
    total = state_path.stat().st_size if state_path.exists() else 0
    seg = state_path.with_name(state_path.name + ".d")
    if seg.is_dir():
        total += sum(f.stat().st_size for f in seg.iterdir() if f.is_file())
    return round(total / 1024, 1)


def child(scenario_path: str, out_path: str, samples: list[int], backend: str = "eth-tester") -> None:
    from bench.instrument import patched_saves
    from harness.chains import ChainPool
    from harness.engine import ScenarioRun
    from harness.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    pool = ChainPool()
    report: dict[str, Any] = {"samples": [], "pid": os.getpid(), "backend": backend}
    report["rss_after_import_mb"] = round(rss_mb(), 1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    (tmp / "run").mkdir()
    cycle_start: dict[int, float] = {}
    saves: dict[int, list[float]] = {}
    sampled: set[int] = set()
    probing = [False]
    t0 = now()

    def on_save(store: Any, state: Any, dt: float) -> None:
        if probing[0]:
            return
        c = state.cycle
        saves.setdefault(c, []).append(dt)
        cycle_start.setdefault(c, now() - t0)
        if c not in samples or c in sampled:
            return
        sampled.add(c)
        probing[0] = True
        try:
            gc.collect()
            from runner.state.serialization import encode_state

            entry = {
                "cycle": c,
                "elapsed_s": round(now() - t0, 2),
                "rss_mb": round(rss_mb(), 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "gc_objects": len(gc.get_objects()),
                "state_json_kb": round(len(encode_state(state)) / 1024, 1),
                "state_in_memory_mb": round(deep_size_mb(state), 2),
                "state_on_disk_kb": _disk_kb(Path(store.path)),
                "state_stats": len(getattr(state, "stats", ())),
                "state_accounting_checks": len(getattr(state, "accounting_checks", ())),
                "store": type(store).__name__,
                "in_run_save_ms": round(dt * 1000, 3),
                "chain": _chain_held(pool),
                **_time_save(type(store), state, tmp),
            }
            report["samples"].append(entry)
            print(f"    cycle {c}: rss {entry['rss_mb']} MB, state {entry['state_json_kb']} KB, "
                  f"in-run save {entry['in_run_save_ms']} ms", flush=True)
        finally:
            probing[0] = False

    try:
        with patched_saves(on_save):
            run = ScenarioRun(scenario, backend=backend, pool=pool, state_dir=tmp / "run")
            report["rss_before_run_mb"] = round(rss_mb(), 1)
            t = now()
            result = run.run()
            report["run_seconds"] = round(now() - t, 2)
        # The probes at each sample (a save into a new store, a deep size walk) allocate
        # too: the run's own peak is the high-water mark read just before each sample's
        # probes and at the end; VmHWM now also covers the probes.
        sample_peaks = [s["peak_rss_mb"] for s in report["samples"]]
        report["vmhwm_with_probes_mb"] = round(peak_rss_mb(), 1)
        report["peak_rss_mb"] = max(sample_peaks) if sample_peaks else report["vmhwm_with_probes_mb"]
        report["rss_end_mb"] = round(rss_mb(), 1)
        report["ru_maxrss_mb"] = round(getrusage_peak_mb(), 1)  # includes the parent's RSS at fork
        report["error"] = result.error
        report["trades"] = len(list(result.state.portfolio.all_trades()))
        report["final_state_on_disk_kb"] = _disk_kb(tmp / "run" / "state.json")
        report["journal_in_memory_mb"] = round(deep_size_mb(result.journal), 2)
        report["chain_end"] = _chain_held(pool)
        from bench.reference import state_size_by_key

        report["final_state_kb_by_key"] = state_size_by_key(result.state)
        last = max(cycle_start) if cycle_start else 0

        def window(a: int, b: int) -> float | None:
            if a in cycle_start and b in cycle_start and b > a:
                return round((cycle_start[b] - cycle_start[a]) / (b - a) * 1000, 3)
            return None

        spans = [(1, min(365, last))]
        if last >= 1095:
            spans.append((last // 2 - 364, last // 2))
        if last > 365:
            spans.append((last - 364, last))
        report["ms_per_cycle_windows"] = {f"cycles {a}-{b}": window(a, b) for a, b in spans}
        per_cycle_saves = {c: sum(v) for c, v in saves.items()}
        report["in_run_save_ms_per_cycle"] = {
            str(c): round(per_cycle_saves[c] * 1000, 3) for c in samples if c in per_cycle_saves}
    finally:
        pool.close()
        shutil.rmtree(tmp, ignore_errors=True)
    Path(out_path).write_text(json.dumps(report, indent=2, default=str))


def run_memory(scenario_path: Path, samples: list[int], log: Any = print,
               backend: str = "eth-tester") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        out = Path(tmp) / "memory.json"
        cmd = [sys.executable, "-m", "bench.memory", "--child", str(scenario_path), str(out),
               "--samples", ",".join(str(s) for s in samples), "--backend", backend]
        t = now()
        proc = subprocess.run(cmd, cwd=REPO, stdout=None, stderr=subprocess.PIPE, text=True)
        elapsed = now() - t
        if proc.returncode != 0 or not out.exists():
            return {"error": f"child exited {proc.returncode}: {proc.stderr[-2000:]}", "wall_s": round(elapsed, 1)}
        report = json.loads(out.read_text())
    report["wall_s"] = round(elapsed, 1)
    s = report.get("samples", [])
    if len(s) >= 2:
        a, b = s[0], s[-1]
        dc = b["cycle"] - a["cycle"]
        report["growth"] = {
            "cycles": dc,
            "rss_mb": round(b["rss_mb"] - a["rss_mb"], 1),
            "rss_kb_per_cycle": round((b["rss_mb"] - a["rss_mb"]) * 1024 / dc, 2),
            "state_json_kb_per_cycle": round((b["state_json_kb"] - a["state_json_kb"]) / dc, 3),
            "state_in_memory_mb": round(b.get("state_in_memory_mb", 0) - a.get("state_in_memory_mb", 0), 2),
            "state_in_memory_kb_per_cycle": round(
                (b.get("state_in_memory_mb", 0) - a.get("state_in_memory_mb", 0)) * 1024 / dc, 2),
            "pyevm_db_mb": round(b["chain"].get("pyevm_db_mb", 0) - a["chain"].get("pyevm_db_mb", 0), 1),
            "in_run_save_ratio": round(b["in_run_save_ms"] / a["in_run_save_ms"], 1)
            if a.get("in_run_save_ms") else None,
            "first_save_ratio": round(b["first_save_no_fsync_ms"] / a["first_save_no_fsync_ms"], 1)
            if a.get("first_save_no_fsync_ms") else None,
        }
    return report


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child", nargs=2, metavar=("SCENARIO", "OUT"), required=True)
    p.add_argument("--samples", default="365,1825,3650")
    p.add_argument("--backend", default="eth-tester")
    args = p.parse_args()
    child(args.child[0], args.child[1], [int(x) for x in args.samples.split(",")], args.backend)


if __name__ == "__main__":
    main()
