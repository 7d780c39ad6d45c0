"""7: the revm backend: its floor, its start-up, world reverts and memory.

  floor          one reference run's own node work, recorded call by call (every eth_call,
                 signed transaction, impersonated send, balance top-up and sealed block),
                 replayed straight into pyrevm: one EVM holding the deployed world,
                 `message_call` / `deploy` / `set_block_env`, nothing else (no checkpoints,
                 no decoding, no receipts). Reference cycle / floor is what the runner, the
                 harness and the backend's node emulation add on top of revm (goal <= 3x).
  backend floor  the same recording replayed through RevmBackend alone (signed bytes in,
                 pool, blocks, receipts out), without the runner or the harness: how much
                 of the gap is the node emulation around pyrevm, how much is Python above it.
  start-up       RevmBackend() (genesis with the admin funded) and ChainPool's first revm chain.
  world          ChainPool.world again right after the snapshot (the reference section's
                 measure) and after a full 365-cycle run, which has to write back every
                 account and slot the run changed.
  memory         the 3,650-cycle workload of section 5 on revm, in a child process.

Timing is perf_counter (wall) and process_time (CPU: the machine is shared; the load
average is in the results); medians of N runs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.clock import median, now

REPO = Path(__file__).resolve().parents[1]
GOALS = {"ms_per_cycle": 5.0, "vs_anvil": 4.0, "vs_eth_tester": 20.0, "floor_ratio": 3.0, "world_again_ms": 0.5}


def _cpu() -> float:
    import time

    return time.process_time()  # dst-ok: bench timing, not simulation time


class Recorder:
    """Shadows a RevmBackend's node methods with instance attributes and logs every call."""

    def __init__(self, backend: Any) -> None:
        from runner.chain.revm import decode_legacy_transaction

        self.ops: list[tuple[Any, ...]] = []
        self._backend = backend
        self._names: list[str] = []
        ops = self.ops

        def shadow(name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
            setattr(backend, name, make(getattr(backend, name)))
            self._names.append(name)

        def call(fn: Callable[..., Any]) -> Callable[..., Any]:
            def w(to: bytes, data: bytes, block: int | None = None, sender: bytes | None = None) -> Any:
                ops.append(("call", to, data, block, sender))
                return fn(to, data, block, sender)
            return w

        def call_many(fn: Callable[..., Any]) -> Callable[..., Any]:
            def w(calls: Any, block: int | None = None) -> Any:
                ops.append(("call_many", [(c.to, c.data) for c in calls], block))
                return fn(calls, block)
            return w

        def send(fn: Callable[..., Any]) -> Callable[..., Any]:
            def w(raw: bytes) -> Any:
                tx = decode_legacy_transaction(raw)
                ops.append(("tx", raw, tx.sender, tx.to, tx.data, tx.value, tx.gas, tx.gas_price))
                return fn(raw)
            return w

        def impersonated(fn: Callable[..., Any]) -> Callable[..., Any]:
            def w(sender: bytes, to: bytes, data: bytes, gas: int) -> Any:
                ops.append(("imp", sender, to, data, gas))
                return fn(sender, to, data, gas)
            return w

        def balance(fn: Callable[..., Any]) -> Callable[..., Any]:
            def w(address: bytes, wei: int) -> Any:
                ops.append(("balance", address, wei))
                return fn(address, wei)
            return w

        def mine(fn: Callable[..., Any]) -> Callable[..., Any]:
            def w(timestamp: int) -> Any:
                base_fee = backend.next_base_fee()
                number = fn(timestamp)
                ops.append(("mine", timestamp, number, base_fee))
                return number
            return w

        for name, make in (("call", call), ("call_many", call_many), ("send_raw_transaction", send),
                           ("send_impersonated", impersonated), ("set_eth_balance", balance), ("mine", mine)):
            shadow(name, make)

    def detach(self) -> None:
        for name in self._names:
            delattr(self._backend, name)


def _pyrevm_floor(dump: str, ops: list[tuple[Any, ...]], runs: int) -> dict[str, Any]:
    """The recording replayed into bare pyrevm, on an EVM loaded with the deployed world."""
    from pyrevm import BlockEnv

    from runner.chain.revm import CALL_GAS, GAS_LIMIT, GAS_PRICE, RevmBackend, prevrandao

    def hx(b: bytes | None) -> str:
        return "0x" + (b or b"\x00" * 20).hex()

    # Everything a node would have to derive (addresses as text, block envs) is prepared
    # untimed: the loop is pyrevm calls only.
    plan: list[tuple[Any, ...]] = []
    for op in ops:
        if op[0] == "call":
            plan.append(("c", hx(op[4]), hx(op[1]), op[2]))
        elif op[0] == "call_many":
            plan.extend(("c", hx(None), hx(to), data) for to, data in op[1])
        elif op[0] == "tx":
            _k, _raw, sender, to, data, value, gas, price = op
            plan.append(("d" if to is None else "t", hx(sender), hx(to), data, value, gas, price))
        elif op[0] == "imp":
            plan.append(("t", hx(op[1]), hx(op[2]), op[3], 0, op[4], GAS_PRICE))
        elif op[0] == "balance":
            plan.append(("b", hx(op[1]), op[2]))
        elif op[0] == "mine":
            _k, ts, number, fee = op
            plan.append(("m", BlockEnv(number=number, coinbase=hx(None), timestamp=ts, difficulty=0,
                                       prevrandao=prevrandao(number), basefee=fee, gas_limit=GAS_LIMIT,
                                       excess_blob_gas=0)))
    walls, cpus, failures = [], [], 0
    for _ in range(runs):
        holder = RevmBackend()
        holder.load_state(dump)  # untimed: a pyrevm EVM with the world in its database
        evm = holder._evm
        failures = 0
        t, c = now(), _cpu()
        for p in plan:
            kind = p[0]
            try:
                if kind == "c":
                    evm.message_call(p[1], p[2], p[3], None, CALL_GAS)
                elif kind == "t":
                    evm.message_call(p[1], p[2], p[3], p[4], p[5], p[6])
                elif kind == "d":
                    evm.deploy(p[1], p[3], p[4], p[5], p[6])
                elif kind == "m":
                    evm.set_block_env(p[1])
                else:
                    evm.set_balance(p[1], p[2])
            except RuntimeError:  # reverts, as in the run (and a few more: fees are not charged)
                failures += 1
        walls.append(now() - t)
        cpus.append(_cpu() - c)
        holder.close()
    return {"wall_s": median(walls), "cpu_s": median(cpus), "pyrevm_calls": len(plan), "failed_calls": failures}


def _backend_floor(backend: Any, snapshot: Any, ops: list[tuple[Any, ...]], runs: int) -> dict[str, Any]:
    """The recording replayed through RevmBackend alone, from the deployed world each time."""
    from runner.chain.backend import Call

    plan: list[tuple[Any, ...]] = []
    for op in ops:
        if op[0] == "call_many":
            plan.append(("call_many", [Call(to, data) for to, data in op[1]], op[2]))
        elif op[0] == "tx":
            plan.append(("tx", op[1]))
        else:
            plan.append(op)
    walls, cpus = [], []
    for _ in range(runs):
        backend.revert(snapshot)
        snapshot = backend.snapshot()
        t, c = now(), _cpu()
        for op in plan:
            kind = op[0]
            try:
                if kind == "call":
                    backend.call(op[1], op[2], op[3], op[4])
                elif kind == "call_many":
                    backend.call_many(op[1], op[2])
                elif kind == "tx":
                    backend.send_raw_transaction(op[1])
                elif kind == "imp":
                    backend.send_impersonated(op[1], op[2], op[3], op[4])
                elif kind == "balance":
                    backend.set_eth_balance(op[1], op[2])
                else:
                    backend.mine(op[1])
            except Exception:  # noqa: BLE001 - the run's own reverted calls revert here too
                pass
        walls.append(now() - t)
        cpus.append(_cpu() - c)
    return {"wall_s": median(walls), "cpu_s": median(cpus), "snapshot": snapshot}


def startup(repeats: int = 20) -> dict[str, Any]:
    from harness.accounts import Accounts
    from harness.chains import ETH_PER_ACCOUNT, GENESIS, ChainPool
    from runner.chain.revm import RevmBackend

    admin = Accounts.for_investors(()).admin
    RevmBackend(GENESIS, [admin.address], ETH_PER_ACCOUNT * 100).close()  # warm pyrevm's statics
    backend, pool = [], []
    for _ in range(repeats):
        t = now()
        be = RevmBackend(GENESIS, [admin.address], ETH_PER_ACCOUNT * 100)
        backend.append(now() - t)
        be.close()
        p = ChainPool()
        t = now()
        p._backend("revm", Accounts.for_investors(()))
        pool.append(now() - t)
        p.close()
    # what the backend adds to an interpreter that already has the harness's chain layer
    base = "import runner.chain.revert, runner.chain.backend, coincurve"
    times: dict[str, list[float]] = {"base": [], "module": []}
    for _ in range(5):
        for key, code in (("base", base), ("module", base + "; import runner.chain.revm")):
            t = now()
            subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
            times[key].append(now() - t)
    return {"backend_ms": round(median(backend) * 1000, 3), "chain_pool_ms": round(median(pool) * 1000, 3),
            "import_ms": round((median(times["module"]) - median(times["base"])) * 1000, 1), "repeats": repeats}


def run_revm(scenario_path: Path, memory_path: Path | None, memory_samples: list[int], runs: int,
             reference: dict[str, Any] | None, log: Any = print) -> dict[str, Any]:
    """Record one reference run on revm, then the floors, start-up, world reverts and memory."""
    from harness.accounts import Accounts
    from harness.chains import ChainPool
    from harness.engine import ScenarioRun, world_spec
    from harness.scenario import load_scenario
    from harness.timeline import build_timeline

    scenario = load_scenario(scenario_path)
    cycles = sum(1 for i in build_timeline(scenario) if i.tick)
    out: dict[str, Any] = {"cycles": cycles, "goals": GOALS}
    out["startup"] = startup()
    log(f"  start-up: RevmBackend() {out['startup']['backend_ms']} ms, "
        f"ChainPool first revm chain {out['startup']['chain_pool_ms']} ms, import {out['startup']['import_ms']} ms")
    pool = ChainPool()
    try:
        spec = world_spec(scenario)
        pool.world("revm", spec, Accounts.for_investors(scenario.investors))
        backend = pool._revm
        assert backend is not None
        world_snapshot = backend.snapshot()
        dump = backend.dump_state()
        backend.revert(world_snapshot)
        with tempfile.TemporaryDirectory(prefix="bench-revm-") as tmp:
            walls, cpus, after = [], [], []
            recorder: Recorder | None = None
            for i in range(runs):
                if i == 0:
                    pool.world("revm", spec, Accounts.for_investors(scenario.investors))
                    recorder = Recorder(backend)
                state_dir = Path(tmp) / f"run{i}"
                state_dir.mkdir()
                run = ScenarioRun(scenario, backend="revm", pool=pool, state_dir=state_dir)
                t, c = now(), _cpu()
                result = run.run()
                walls.append(now() - t)
                cpus.append(_cpu() - c)
                if recorder is not None:
                    recorder.detach()
                    ops, recorder = recorder.ops, None
                t = now()  # the next world: every account and slot the run changed written back
                pool.world("revm", spec, Accounts.for_investors(scenario.investors))
                after.append(now() - t)
                log(f"  revm run {i + 1}/{runs}: {walls[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU, error={result.error}")
        cycle_ms = median(walls) / cycles * 1000
        cycle_cpu_ms = median(cpus) / cycles * 1000
        out["run"] = {"ms_per_cycle": round(cycle_ms, 3), "cpu_ms_per_cycle": round(cycle_cpu_ms, 3),
                      "seconds_all": [round(x, 3) for x in walls], "cpu_seconds_all": [round(x, 3) for x in cpus]}
        out["world_after_full_run_ms"] = round(median(after) * 1000, 3)
        counts: dict[str, int] = {}
        for op in ops:
            counts[op[0]] = counts.get(op[0], 0) + (len(op[1]) if op[0] == "call_many" else 1)
        out["recorded_ops_per_cycle"] = {k: round(v / cycles, 3) for k, v in sorted(counts.items())}
        floor = _pyrevm_floor(dump, ops, runs)
        log(f"  pyrevm floor: {floor['wall_s'] / cycles * 1000:.3f} ms/cycle wall, "
            f"{floor['cpu_s'] / cycles * 1000:.3f} CPU ({floor['pyrevm_calls']} pyrevm calls)")
        pool.world("revm", spec, Accounts.for_investors(scenario.investors))
        snap = backend.snapshot()
        bfloor = _backend_floor(backend, snap, ops, runs)
        log(f"  backend floor: {bfloor['wall_s'] / cycles * 1000:.3f} ms/cycle wall, "
            f"{bfloor['cpu_s'] / cycles * 1000:.3f} CPU")
        out["floor"] = {
            "pyrevm_ms_per_cycle": round(floor["wall_s"] / cycles * 1000, 3),
            "pyrevm_cpu_ms_per_cycle": round(floor["cpu_s"] / cycles * 1000, 3),
            "pyrevm_calls_per_cycle": round(floor["pyrevm_calls"] / cycles, 2),
            "pyrevm_failed_calls": floor["failed_calls"],
            "backend_ms_per_cycle": round(bfloor["wall_s"] / cycles * 1000, 3),
            "backend_cpu_ms_per_cycle": round(bfloor["cpu_s"] / cycles * 1000, 3),
        }
        out["floor"]["ratio"] = round(cycle_ms / out["floor"]["pyrevm_ms_per_cycle"], 2)
        out["floor"]["ratio_cpu"] = round(cycle_cpu_ms / out["floor"]["pyrevm_cpu_ms_per_cycle"], 2)
    finally:
        pool.close()
    if reference:
        ref = {k: v.get("ms_per_cycle") for k, v in reference.items() if isinstance(v, dict)}
        mine = ref.get("revm") or out["run"]["ms_per_cycle"]
        out["speedup"] = {k: round(v / mine, 2) for k, v in ref.items() if v and k != "revm"}
    if memory_path is not None:
        from bench.memory import run_memory

        log(f"  memory over {memory_samples[-1]} cycles on revm (child process) ...")
        out["memory"] = run_memory(memory_path, memory_samples, log=log, backend="revm")
    return out


def render(doc: dict[str, Any]) -> list[str]:
    """Section 7 of results/latest.md."""
    r = doc.get("revm")
    if not r:
        return []
    from bench.report import _f, _table

    ref = doc.get("reference", {})
    lines = ["", "## 7. revm (in-process revm through pyrevm 0.3.7)", ""]
    rows = []
    for name in ("eth-tester", "anvil", "revm"):
        v = ref.get(name, {})
        if "ms_per_cycle" in v:
            rows.append([name, _f(v["ms_per_cycle"], 2), _f(v.get("counts", {}).get("backend_ms_per_cycle_total"), 2),
                         _f(v.get("world_again_s", 0) * 1000, 3)])
    if rows:
        lines += _table(["backend (section 1, probe attached)", "ms/cycle", "ms/cycle inside the backend",
                         "world again (ms)"], rows)
    run, fl = r.get("run", {}), r.get("floor", {})
    sp = r.get("speedup", {})
    g = r.get("goals", GOALS)
    lines += ["", f"Without the probe: **{_f(run.get('ms_per_cycle'), 2)} ms/cycle** wall "
              f"({_f(run.get('cpu_ms_per_cycle'), 2)} ms CPU; goal <= {g['ms_per_cycle']}), "
              + ", ".join(f"{_f(v, 1)}x faster than {k} (goal >= {g['vs_anvil'] if k == 'anvil' else g['vs_eth_tester']}x)"
                          for k, v in sp.items()) + "."]
    if fl:
        lines += ["", "The floor: the run's own node work (recorded per cycle: "
                  + ", ".join(f"{k} {v}" for k, v in r.get("recorded_ops_per_cycle", {}).items()) + ") replayed:", ""]
        lines += _table(["", "ms/cycle wall", "ms/cycle CPU", "reference cycle / this"], [
            ["reference run (runner + harness + backend)", _f(run.get("ms_per_cycle"), 3),
             _f(run.get("cpu_ms_per_cycle"), 3), "1.0"],
            ["through RevmBackend alone (no runner, no harness)", _f(fl.get("backend_ms_per_cycle"), 3),
             _f(fl.get("backend_cpu_ms_per_cycle"), 3),
             _f(run.get("ms_per_cycle", 0) / fl["backend_ms_per_cycle"], 2) if fl.get("backend_ms_per_cycle") else ""],
            [f"straight into pyrevm ({_f(fl.get('pyrevm_calls_per_cycle'), 1)} pyrevm calls/cycle)",
             _f(fl.get("pyrevm_ms_per_cycle"), 3), _f(fl.get("pyrevm_cpu_ms_per_cycle"), 3),
             _f(fl.get("ratio"), 2)],
        ])
        lines += ["", f"**Floor ratio = {_f(fl.get('ratio'), 2)}** wall, {_f(fl.get('ratio_cpu'), 2)} CPU "
                  f"(goal <= {g['floor_ratio']})."]
    st = r.get("startup", {})
    if st:
        lines += ["", f"Start-up: RevmBackend() {st['backend_ms']} ms, ChainPool's first revm chain (with the "
                  f"genesis snapshot) {st['chain_pool_ms']} ms (medians of {st['repeats']}); "
                  f"importing the backend (pyrevm included) adds {st['import_ms']} ms to an interpreter that has "
                  f"the chain layer already (eth_abi, coincurve). "
                  f"World again right after the snapshot: "
                  f"{_f(ref.get('revm', {}).get('world_again_s', 0) * 1000, 3)} ms (goal < {g['world_again_ms']}); "
                  f"after a full {r.get('cycles')}-cycle run: {_f(r.get('world_after_full_run_ms'), 3)} ms."]
    mem = r.get("memory")
    if mem and mem.get("samples"):
        rows = [[s["cycle"], _f(s["elapsed_s"], 1), _f(s["rss_mb"], 1), _f(s["peak_rss_mb"], 1),
                 f"{s['gc_objects']:,}", _f(s.get("state_in_memory_mb"), 1), s.get("chain", {}).get("blocks"),
                 s.get("chain", {}).get("receipts"), s.get("chain", {}).get("mirror_slots"),
                 s.get("chain", {}).get("undo_blocks")] for s in mem["samples"]]
        lines += ["", f"Memory over {mem['samples'][-1]['cycle']:,} cycles on revm (section 5's workload, "
                  "child process):", ""]
        lines += _table(["cycle", "elapsed s", "RSS MB", "peak RSS MB", "Python objects", "state in memory MB",
                         "blocks", "receipts", "world slots", "undo blocks kept"], rows)
        gr = mem.get("growth")
        if gr:
            lines += ["", f"Growth from cycle {mem['samples'][0]['cycle']} to {mem['samples'][-1]['cycle']}: RSS "
                      f"+{gr['rss_mb']} MB ({gr['rss_kb_per_cycle']} KB/cycle) against the runner's state in "
                      f"memory +{gr.get('state_in_memory_mb')} MB ({gr.get('state_in_memory_kb_per_cycle')} "
                      f"KB/cycle). Cycle time by window (ms/cycle): "
                      + ", ".join(f"{k}: {_f(v, 2)}" for k, v in mem.get("ms_per_cycle_windows", {}).items()) + "."]
    elif mem:
        lines += ["", f"Memory run failed: {str(mem.get('error'))[:300]}"]
    return lines
