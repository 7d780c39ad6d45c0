"""`python -m bench.invariants`: what the invariants cost per cycle (goal: under 15%).

    python -m bench.invariants                       anvil, 60 cycles of the reference workload, 2 runs
    python -m bench.invariants --backend revm --cycles 365 --runs 3

The reference workload (bench/workloads.py) runs alternately with every invariant and
with every invariant skipped, on one pool (the world deployed once, then reverted to;
one untimed warm-up run first). Two measures: the difference of the medians, per cycle
and as a share of a cycle without them (noisy on a shared machine: it can come out
below zero), and the time inside the checks themselves (each registered function timed,
chain reads included), which is the steadier figure. On anvil the runner runs in its own process
and the invariants in this one, reading the node over JSON-RPC, as in a real run.
Timing is `time.perf_counter` (bench.clock); nothing here asserts on time. Results go
to bench/results/invariants.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bench.clock  # noqa: F401 - configures freezegun before anything else imports it
from bench import workloads
from bench.clock import median, now

RESULTS = Path(__file__).resolve().parent / "results"
GOAL = 0.15  # the invariants' share of a cycle


@contextmanager
def timed_invariants(spent: dict[str, float]) -> Iterator[None]:
    """Every registered invariant's check wrapped with a timer adding to `spent`."""
    from harness.invariants import REGISTRY, Invariant

    originals = dict(REGISTRY)

    def wrap(inv: Invariant) -> Invariant:
        def check(moment: Any) -> Any:
            t = now()
            try:
                return inv.check(moment)
            finally:
                spent[inv.name] += now() - t
        return Invariant(inv.name, inv.points, check)

    REGISTRY.update({name: wrap(inv) for name, inv in originals.items()})
    try:
        yield
    finally:
        REGISTRY.update(originals)


def measure(backend: str, cycles: int, runs: int, log: Any = print) -> dict[str, Any]:
    from harness.accounts import Accounts
    from harness.chains import ChainPool, world_spec
    from harness.engine import ScenarioRun
    from harness.invariants import names
    from harness.scenario import load_scenario

    path, sha = workloads.reference_path(cycles)
    scenario = load_scenario(path)
    with_times: list[float] = []
    without_times: list[float] = []
    spent: dict[str, float] = defaultdict(float)
    checks = 0
    pool = ChainPool()
    try:
        pool.world(backend, world_spec(scenario), Accounts.for_investors(scenario.investors))
        with tempfile.TemporaryDirectory(prefix="bench-inv-") as tmp:
            ScenarioRun(scenario, backend=backend, pool=pool, state_dir=Path(tmp)).run()  # warm-up, untimed
            for i in range(runs):
                for skip in ((), names()):  # alternated, so drift in load hits both alike
                    state_dir = Path(tmp) / f"run{i}-{len(skip)}"
                    state_dir.mkdir()
                    run = ScenarioRun(scenario, backend=backend, pool=pool, state_dir=state_dir,
                                      skip_invariants=skip)
                    with timed_invariants(spent if not skip else defaultdict(float)):
                        t = now()
                        result = run.run()
                        elapsed = now() - t
                    (without_times if skip else with_times).append(elapsed)
                    if not skip:
                        checks = result.invariant_checks
                    log(f"  run {i + 1}/{runs} {'without' if skip else 'with'} invariants: {elapsed:.2f} s")
    finally:
        pool.close()
    with_s, without_s = median(with_times), median(without_times)
    cost = with_s - without_s
    per_inv = {name: round(spent[name] / runs / cycles * 1000, 3) for name in sorted(spent, key=lambda n: -spent[n])}
    return {
        "backend": backend, "cycles": cycles, "runs": runs, "workload": {"path": str(path.name), "sha256": sha},
        "invariant_checks_per_run": checks,
        "cycle_ms_without": round(without_s / cycles * 1000, 2), "cycle_ms_with": round(with_s / cycles * 1000, 2),
        "invariants_ms_per_cycle": round(cost / cycles * 1000, 2),
        "share_of_cycle": round(cost / without_s, 4) if without_s else None,
        "checks_ms_per_cycle": round(sum(spent.values()) / runs / cycles * 1000, 2),
        "checks_share_of_cycle": round(sum(spent.values()) / runs / without_s, 4) if without_s else None,
        "per_invariant_ms_per_cycle": per_inv, "goal": GOAL,
        "samples_s": {"with": [round(x, 3) for x in with_times], "without": [round(x, 3) for x in without_times]},
    }


def render(doc: dict[str, Any]) -> str:
    share = doc["share_of_cycle"]
    lines = [
        f"# Invariants' cost per cycle ({doc['backend']}, {doc['cycles']} cycles of the reference workload, "
        f"median of {doc['runs']})",
        "",
        "| measure | value |",
        "|---|---|",
        f"| cycle without invariants | {doc['cycle_ms_without']} ms |",
        f"| cycle with invariants | {doc['cycle_ms_with']} ms |",
        f"| invariants per cycle (difference) | {doc['invariants_ms_per_cycle']} ms |",
        f"| share of a cycle | {share:.1%} (goal under {doc['goal']:.0%}) |" if share is not None else "| share | - |",
        f"| time inside the checks | {doc['checks_ms_per_cycle']} ms per cycle, "
        f"{doc['checks_share_of_cycle']:.1%} of a cycle without them |",
        f"| checks per run | {doc['invariant_checks_per_run']} |",
        "",
        "| invariant | ms per cycle |",
        "|---|---|",
        *(f"| {name} | {ms} |" for name, ms in doc["per_invariant_ms_per_cycle"].items()),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.invariants", description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="anvil", choices=("anvil", "revm", "eth-tester"))
    p.add_argument("--cycles", type=int, default=60, help="cycles of the reference workload")
    p.add_argument("--runs", type=int, default=2, help="runs with and without invariants (medians)")
    args = p.parse_args(argv)
    doc = measure(args.backend, args.cycles, args.runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "invariants.json").write_text(json.dumps(doc, indent=2) + "\n")
    text = render(doc)
    (RESULTS / "invariants.md").write_text(text)
    print(text)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
