"""`python -m bench`: run every benchmark once, write bench/results/latest.{json,md}.

    python -m bench                 everything, N=3 runs of the reference workload
    python -m bench --quick         the same with N=1
    python -m bench --only reference,imports     a subset (sections: imports, anvil,
                                    reference, memory, revm, suite, wire, kill, fuzz, invariants); subsets and shortened
                                    workloads write results/partial.{json,md} instead
    python -m bench --profile       the reference workload under pyinstrument, per backend:
                                    bench/results/profile-<backend>.{html,txt}

No section asserts on time; a section that fails is recorded and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench.clock  # noqa: F401 - configures freezegun before anything else imports it
from bench import workloads

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("imports", "anvil", "reference", "memory", "revm", "suite", "wire", "kill", "fuzz", "invariants")
BACKENDS = ("eth-tester", "anvil", "revm")


def log(msg: str) -> None:
    print(msg, flush=True)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _anvil_version() -> str:
    try:
        from harness.anvil_node import find_anvil

        out = subprocess.run([find_anvil(), "--version"], capture_output=True, text=True, timeout=20).stdout
        return out.splitlines()[0].strip() if out else "?"
    except Exception:  # noqa: BLE001 - informational only
        return "unavailable"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("web3", "eth-tester", "py-evm", "pyrevm", "coincurve", "msgspec", "freezegun", "pyinstrument",
                "pytest-xdist"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "-"
    return out


def meta(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "anvil": _anvil_version(),
        "packages": _versions(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--", "runner", "harness", "fixtures")),
        "runs": args.runs,
        "load_start": _load(),
        "argv": sys.argv[1:],
    }


def section(doc: dict[str, Any], name: str, fn: Any) -> Any:
    log(f"\n== {name} (load {_load()})")
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - record and go on with the other sections
        doc.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
        log(traceback.format_exc())
        return None


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    from bench.floor import measure_floor
    from bench.memory import run_memory
    from bench.reference import freeze_cost_ms, run_reference
    from bench.suite import anvil_startup, import_times, mining_by_hardfork, pytest_wall

    doc: dict[str, Any] = {"meta": meta(args)}
    selected = set(args.only.split(",")) if args.only else set(SECTIONS)
    selected -= set(args.skip.split(",")) if args.skip else set()
    ref_path, ref_sha = workloads.reference_path(args.cycles)
    doc["workloads"] = {"reference": {"path": str(ref_path.relative_to(REPO)), "sha256": ref_sha,
                                      "seed": workloads.REFERENCE_SEED}}

    if "imports" in selected:
        doc["imports"] = section(doc, "imports and CLI start-up", import_times)
    if "anvil" in selected:
        doc["anvil_startup"] = section(doc, "anvil start-up", anvil_startup)
        doc["anvil_mining"] = section(doc, "anvil: evm_mine cost against chain height, prague vs cancun",
                                      mining_by_hardfork)
    if "reference" in selected:
        doc["reference"] = {}
        for backend in BACKENDS:
            res = section(doc, f"reference workload on {backend}", lambda b=backend: run_reference(
                b, ref_path, args.runs, floor=measure_floor, log=log))
            doc["reference"][backend] = res if res is not None else {
                "error_section": doc.get("errors", {}).get(f"reference workload on {backend}", "?")}
        doc["freeze_time_ms"] = section(doc, "freeze_time cost", freeze_cost_ms)
    if "wire" in selected:
        from bench.wire import run_wire

        doc["wire"] = section(doc, "wire proxy overhead: reference workload on anvil, direct vs proxied",
                              lambda: run_wire(ref_path, args.runs, log=log))
    if "kill" in selected:
        from bench.kill import run_kill

        doc["kill"] = section(doc, "a real kill and restart of the runner process (anvil)",
                              lambda: run_kill(args.runs, log=log))
    if "fuzz" in selected:  # also bench/results/fuzz.{json,md}
        from bench.fuzz import main as fuzz_main

        doc["fuzz"] = section(doc, "fuzz campaigns: runs/s, scaling, planted bug to reproduction",
                              lambda: fuzz_main([]))
    if "invariants" in selected:  # also bench/results/invariants.{json,md}
        from bench.invariants import main as invariants_main

        doc["invariants"] = section(doc, "invariants' cost per cycle on anvil", lambda: invariants_main([]))
    if "memory" in selected:
        mem_path, mem_sha = workloads.memory_path(args.memory_cycles)
        doc["workloads"]["memory"] = {"path": str(mem_path.relative_to(REPO)), "sha256": mem_sha}
        samples = sorted({min(365, args.memory_cycles), args.memory_cycles // 2, args.memory_cycles})
        doc["memory"] = section(doc, f"memory over {args.memory_cycles} cycles (child process)",
                                lambda: run_memory(mem_path, samples, log=log))
    if "revm" in selected:
        from bench.revm import run_revm

        mem_path, _sha = workloads.memory_path(args.memory_cycles)
        samples = sorted({min(365, args.memory_cycles), args.memory_cycles // 2, args.memory_cycles})
        doc["revm"] = section(doc, "revm: floor, start-up, world reverts, memory", lambda: run_revm(
            ref_path, mem_path, samples, args.runs, doc.get("reference"), log=log))
    if "suite" in selected:
        suite = []
        for workers in (1, 2):
            r = section(doc, f"pytest -n {workers}", lambda w=workers: pytest_wall(w))
            if r is not None:
                log(f"  {r.get('seconds')} s, exit {r.get('exit_code')}: {r.get('summary')}")
                suite.append(r)
        doc["suite"] = suite
    doc["meta"]["load_end"] = _load()
    return doc


def run_profile(args: argparse.Namespace) -> None:
    from bench.profile import profile_backend

    ref_path, _sha = workloads.reference_path(args.cycles)
    out = {}
    for backend in BACKENDS:
        log(f"\n== profiling the reference workload on {backend} (load {_load()})")
        res = profile_backend(backend, ref_path, RESULTS, log=log)
        log(res["summary_text"])
        out[backend] = {k: v for k, v in res.items() if k != "summary_text"}
    (RESULTS / "profile.json").write_text(json.dumps(out, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one run per measurement instead of three")
    p.add_argument("--runs", type=int, default=None, help="runs of the reference workload (default 3)")
    p.add_argument("--profile", action="store_true", help="profile the reference workload instead")
    p.add_argument("--only", default="", help=f"comma-separated sections: {','.join(SECTIONS)}")
    p.add_argument("--skip", default="", help="comma-separated sections to leave out")
    p.add_argument("--cycles", type=int, default=workloads.REFERENCE_CYCLES, help="reference workload cycles")
    p.add_argument("--memory-cycles", type=int, default=workloads.MEMORY_CYCLES, help="memory run cycles")
    args = p.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    for name in filter(None, (args.only + "," + args.skip).split(",")):
        if name not in SECTIONS:
            p.error(f"unknown section {name!r}; sections are {', '.join(SECTIONS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.profile:
        run_profile(args)
        return 0
    from bench.report import render

    doc = run_all(args)
    # a subset or a shortened workload must not overwrite the last complete results
    full = not (args.only or args.skip) and args.cycles == workloads.REFERENCE_CYCLES \
        and args.memory_cycles == workloads.MEMORY_CYCLES
    stem = "latest" if full else "partial"
    (RESULTS / f"{stem}.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    table = render(doc)
    (RESULTS / f"{stem}.md").write_text(table)
    log("\n" + table)
    log(f"wrote {(RESULTS / f'{stem}.json').relative_to(REPO)} and {(RESULTS / f'{stem}.md').relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
