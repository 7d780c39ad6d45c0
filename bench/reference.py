"""1 + 3: the reference workload on one backend, and world set-up on the same pool.

One ChainPool per backend: the node (or embedded chain) is started, the world deployed
once (timed: "world first"), got again by snapshot revert (timed: "world again"), then
the 365-cycle scenario runs N times, each run reverting to the deployed world.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from bench.clock import median, now
from bench.instrument import Probe, operations_per_cycle


def _inner_backend(pool: Any, backend: str) -> Any:
    return {"eth-tester": pool._ethtester, "revm": getattr(pool, "_revm", None)}.get(backend, pool._anvil)


# Chain identity that legitimately differs between runs on anvil (its blocks carry a
# random prevrandao, so block hashes are not reproducible); everything else must match.
VOLATILE_KEYS = ("block_hash",)


def _comparable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _comparable(v) for k, v in obj.items()
                if not any(str(k).endswith(v_) for v_ in VOLATILE_KEYS)}
    if isinstance(obj, list):
        return [_comparable(v) for v in obj]
    return obj


def state_size_by_key(state: Any) -> dict[str, float]:
    """KB of the state's JSON per top-level key, largest first (what a save re-encodes)."""
    from runner.state.serialization import to_builtins

    doc = to_builtins(state)
    sizes = {k: len(json.dumps(v, default=str)) / 1024 for k, v in doc.items()}
    return {k: round(v, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1]) if v >= 0.1}


def _state_digest(state: Any) -> str:
    """sha256 of the final state, without the keys in VOLATILE_KEYS."""
    from runner.state.serialization import to_builtins

    doc = json.dumps(_comparable(to_builtins(state)), sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def freeze_cost_ms(repeats: int = 30) -> float:
    """What one `with freeze_time(ts):` costs in this process (the engine does one per instant)."""
    from datetime import UTC, datetime

    from freezegun import freeze_time

    ts = datetime(2024, 1, 1, tzinfo=UTC)
    with freeze_time(ts):  # warm freezegun's module cache
        pass
    samples = []
    for _ in range(repeats):
        t = now()
        with freeze_time(ts):
            pass
        samples.append(now() - t)
    return median(samples) * 1000


def run_reference(backend: str, scenario_path: Path, runs: int, world_reverts: int = 5,
                  floor: Any | None = None, log: Any = print) -> dict[str, Any]:
    """Set-up timings, N timed runs with per-phase and per-method counts, and (anvil) the floor."""
    from harness.accounts import Accounts
    from harness.chains import ChainPool, world_spec
    from harness.engine import ScenarioRun
    from harness.scenario import load_scenario
    from harness.timeline import build_timeline

    scenario = load_scenario(scenario_path)
    timeline = build_timeline(scenario)
    cycles = sum(1 for i in timeline if i.tick)
    out: dict[str, Any] = {"backend": backend, "cycles": cycles, "instants": len(timeline),
                           "events": len(scenario.timeline), "runs": runs}
    pool = ChainPool()
    try:
        spec = world_spec(scenario)
        accounts = Accounts.for_investors(scenario.investors)
        start_backend = getattr(pool, "_backend", None)
        if callable(start_backend):
            t = now()
            start_backend(backend, accounts)
            out["node_start_s"] = round(now() - t, 4)
        t = now()
        pool.world(backend, spec, accounts)
        out["world_first_s"] = round(now() - t, 4)
        again = []
        for _ in range(world_reverts):
            accounts = Accounts.for_investors(scenario.investors)
            t = now()
            pool.world(backend, spec, accounts)
            again.append(now() - t)
        out["world_again_s"] = round(median(again), 5)
        out["world_again_samples_s"] = [round(x, 5) for x in again]
        out["deploys"] = pool.deploys

        times: list[float] = []
        digests: list[str] = []
        first_summary: dict[str, Any] | None = None
        details: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="bench-ref-") as tmp:
            for i in range(runs):
                probe = Probe()
                probe.attach_backend(_inner_backend(pool, backend))
                state_dir = Path(tmp) / f"run{i}"
                state_dir.mkdir()
                run = ScenarioRun(scenario, backend=backend, pool=pool, state_dir=state_dir)
                probe.attach_run(run)
                with probe.timing_saves():
                    t = now()
                    try:
                        result = run.run()
                    finally:
                        elapsed = now() - t
                        probe.detach()
                times.append(elapsed)
                digests.append(_state_digest(result.state))
                summary = probe.summary(cycles, elapsed)
                trades = list(result.state.portfolio.all_trades())
                detail = {
                    "run": i + 1, "seconds": round(elapsed, 3),
                    "ms_per_cycle": round(elapsed / cycles * 1000, 3),
                    "error": result.error, "trades": len(trades),
                    "trades_failed": sum(1 for tr in trades if str(getattr(tr.status, "value", tr.status)) == "failed"),
                    "chainclient_reads": result.node_reads, "chainclient_sent": result.node_sends,
                    "rpc_round_trips_per_cycle": summary["rpc_round_trips_per_cycle"],
                    "state_digest": digests[-1],
                }
                details.append(detail)
                if first_summary is None:
                    first_summary = summary
                    out["final_state_kb_by_key"] = state_size_by_key(result.state)
                log(f"  {backend} run {i + 1}/{runs}: {elapsed:.2f} s "
                    f"({elapsed / cycles * 1000:.1f} ms/cycle, {len(trades)} trades, error={result.error})")
        med = median(times)
        assert first_summary is not None
        out.update({
            "seconds_median": round(med, 3),
            "seconds_all": [round(x, 3) for x in times],
            "ms_per_cycle": round(med / cycles * 1000, 3),
            "cycles_per_second": round(cycles / med, 2),
            "deterministic_across_runs": len(set(digests)) == 1,
            "state_digest": digests[0],
            "runs_detail": details,
            "chainclient_reads_per_cycle": round(details[0]["chainclient_reads"] / cycles, 3),
            "chainclient_sent_per_cycle": round(details[0]["chainclient_sent"] / cycles, 3),
            "trades": details[0]["trades"],
            "error": details[0]["error"],
            "counts": first_summary,
            "operations_per_cycle": operations_per_cycle(first_summary, cycles),
        })
        if floor is not None and backend == "anvil":
            node = getattr(pool, "_anvil_node", None)
            if node is not None:
                log("  anvil floor: same node work as raw JSON-RPC ...")
                # back to the deployed world: the floor starts at the height a run starts at
                pool.world(backend, spec, Accounts.for_investors(scenario.investors))
                out["floor"] = floor(node.url, first_summary, cycles, runs)
    finally:
        pool.close()
    return out
