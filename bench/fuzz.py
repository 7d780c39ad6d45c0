"""`python -m bench.fuzz`: what a fuzz campaign costs and how fast it finds a bug.

    python -m bench.fuzz                 write bench/results/fuzz.{json,md}
    python -m bench.fuzz --runs 40

1. runs/s of a campaign of 10-cycle generated runs on anvil (default weights, no
   shrinking), in process (1 worker) and on 2 local worker processes, and the scaling.
2. Time from a planted runner bug (tests/integration/test_fuzz_planted_bug.py: LP fees of
   tiers above 0.30% booked at 0.30%) to its shrunk reproduction file, and its size, on
   revm (the runner in this process, where the bug is planted).

Both campaigns of (1) use the same seed and must give the same digest. Timing is
`time.perf_counter` (bench.clock); nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.clock import now
from harness.chains import CPU_SPENT
from harness.fuzz.campaign import CampaignOptions, run_campaign
from harness.fuzz.generate import FuzzConfig, load_weights

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
SEED = 2026


def campaign_rate(runs: int, workers: int) -> dict[str, Any]:
    config = FuzzConfig(backend="anvil", until=timedelta(days=10))
    spent = dict(CPU_SPENT)
    before = os.times()
    with tempfile.TemporaryDirectory() as tmp:
        start = now()
        result = run_campaign(CampaignOptions(SEED, runs, config, workers=workers, shrink=False,
                                              regressions=Path(tmp)))
        seconds = now() - start
    after = os.times()
    s = result.summary()
    own = after.user + after.system - before.user - before.system
    reaped = after.children_user + after.children_system - before.children_user - before.children_system
    if workers <= 1:  # this process is the worker; its anvil and runner processes were measured as they stopped
        cpu = {"worker": own, "runners": CPU_SPENT["runners"] - spent["runners"],
               "anvil": CPU_SPENT["anvil"] - spent["anvil"]}
    else:  # the worker processes and everything they started, reaped at the pool's shutdown
        cpu = {"workers and their processes": reaped}
    return {"workers": workers, "runs": s["runs"], "seconds": round(seconds, 2),
            "runs_per_s": round(s["runs"] / seconds, 2), "events": s["events"],
            "invariant_checks": s["invariant_checks"], "failures": s["failures"],
            "failures_by_signature": s["failures_by_signature"], "digest": s["digest"],
            "cpu_s_per_run": {k: round(v / max(1, s["runs"]), 3) for k, v in cpu.items()}}


def planted_bug() -> dict[str, Any]:
    import pytest

    from runner.models.execution import ExecutionModel
    from tests.integration.test_fuzz_planted_bug import SMOKE, _planted

    # On revm: the bug is planted in this process, and on anvil the runner runs in a process
    # of its own, which the patch never reaches (there the campaign finds other failures
    # first). The legacy vault only: the documents this benchmark drew before vaults and
    # exchanges were drawn (they come from streams of their own).
    smoke = load_weights(str(SMOKE))
    config = FuzzConfig(backend="revm", until=timedelta(days=10),
                        weights=dataclasses.replace(smoke, vault={"legacy": 1}))
    patch = pytest.MonkeyPatch()
    patch.setattr(ExecutionModel, "settle", _planted(ExecutionModel.settle))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = now()
            result = run_campaign(CampaignOptions(3, 32, config, regressions=Path(tmp), shrink_attempts=300))
            seconds = now() - start
            repro = result.reproductions[0] if result.reproductions else None
            text = repro.path.read_text() if repro else ""
    finally:
        patch.undo()
    first = next((v.run for v in result.failures), None)
    return {"seconds_to_file": round(seconds, 2), "first_failing_run": first,
            "signature": repro.signature if repro else None,
            "events_before": repro.original_events if repro else None,
            "events_after": repro.events if repro else None,
            "shrink": repro.shrink.summary() if repro else None, "stable": repro.stable if repro else None,
            "file_lines": len([line for line in text.splitlines() if not line.startswith("#")]),
            "reproduction": text}


def render(doc: dict[str, Any]) -> str:
    rows = doc["rate"]
    lines = ["# Fuzz campaign benchmark", "",
             f"10-cycle generated runs on anvil, default weights, no shrinking, seed {SEED}.", "",
             "| workers | runs | s | runs/s | events | invariant checks | failures | digest |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['runs']} | {r['seconds']} | {r['runs_per_s']} | {r['events']} | "
                     f"{r['invariant_checks']} | {r['failures']} | {r['digest'][:12]} |")
    lines += ["", f"Scaling 1 -> 2 workers: {doc['scaling']}x; same digest: {doc['same_digest']}.", ""]
    lines += ["CPU seconds per run (user + system, from os.times and /proc): "
              + "; ".join(f"{r['workers']} worker(s): " + ", ".join(f"{k} {v}" for k, v in r["cpu_s_per_run"].items())
                          for r in rows) + ".", ""]
    if doc.get("load"):
        lines += [f"Load while measuring: {doc['load']}.", ""]
    p = doc["planted"]
    lines += ["## Planted bug to reproduction (revm)", "",
              f"{p['seconds_to_file']} s from campaign start to the written file; first failing run {p['first_failing_run']}; "
              f"{p['signature']}; {p['events_before']} -> {p['events_after']} events ({p['file_lines']} lines "
              f"without the header); {p['shrink']}; stable: {p['stable']}.", "", "```yaml", p["reproduction"].rstrip(),
              "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="runs per campaign (default 60)")
    parser.add_argument("--load", default="", help="what else the machine ran meanwhile (written into the results)")
    args = parser.parse_args(argv)
    one = campaign_rate(args.runs, 1)
    print(f"1 worker: {one['runs_per_s']} runs/s", flush=True)
    two = campaign_rate(args.runs, 2)
    print(f"2 workers: {two['runs_per_s']} runs/s", flush=True)
    planted = planted_bug()
    print(f"planted bug: {planted['seconds_to_file']} s to a {planted['events_after']}-event reproduction", flush=True)
    doc = {"rate": [one, two], "scaling": round(two["runs_per_s"] / one["runs_per_s"], 2),
           "same_digest": one["digest"] == two["digest"], "planted": planted, "load": args.load}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / "fuzz.md").write_text(render(doc))
    print(render(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
