"""`harness fuzz`: draw, run, judge and shrink whole scenarios from a seed.

    harness fuzz --seed S --runs N [--workers W | --cluster ADDRESS] [--backend B]
                 [--events deposit,rebase,...] [--weights FILE] [--until 10d] [--cycle 1d]
                 [--time-budget 10m] [--coverage] [--corpus DIR] [--json FILE]
                 [--regressions DIR] [--no-shrink]
    harness fuzz --seed S --run K          replay run K exactly (and shrink it if it fails)
    harness fuzz --list-kinds              which event kinds are generated, with weights

Exit status: 0 when every run passed, 1 when a run failed (each distinct failure is shrunk
and written; the file and its replay command are printed), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_REGRESSIONS = "build/fuzz/regressions"


def _duration(text: str) -> timedelta:
    from harness.scenario.quantities import QuantityError, parse_duration

    try:
        value = parse_duration(text)
    except QuantityError:
        raise argparse.ArgumentTypeError(f"expected a duration like 30d or 10m, found {text!r}") from None
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError(f"expected a positive duration, found {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, found {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, found {text!r}")
    return value


def add_parser(sub: Any) -> None:
    """The `fuzz` subcommand's arguments (called by harness.cli)."""
    p = sub.add_parser("fuzz", help="draw whole scenarios from a seed, run them, shrink failures",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=_count, default=0, help="campaign seed (default 0)")
    p.add_argument("--runs", type=_count, default=100, help="runs in the campaign (default 100)")
    p.add_argument("--run", type=_count, default=None, metavar="K", help="replay only run K of the seed")
    p.add_argument("--workers", type=_count, default=1, help="local worker processes (default 1: in process)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help="Dask scheduler address (tcp://host:port)")
    p.add_argument("--backend", choices=("revm", "eth-tester", "anvil"), default="revm",
                   help="chain backend (default revm, the fastest: in process; anvil runs the runner in its own "
                        "process, so its crashes are real kills)")
    p.add_argument("--events", default=None, help="comma-separated event kinds to draw (default: every kind)")
    p.add_argument("--weights", default=None, metavar="FILE", help="YAML file overriding the generator's weights")
    p.add_argument("--until", type=_duration, default=timedelta(days=10), help="length of each run (default 10d)")
    p.add_argument("--cycle", type=_duration, default=timedelta(days=1), help="strategy cycle (default 1d)")
    p.add_argument("--time-budget", type=_duration, default=None, metavar="DURATION",
                   help="stop starting new runs after this much wall-clock time")
    p.add_argument("--coverage", action="store_true", help="measure runner coverage; draw near runs that reached new branches")
    p.add_argument("--corpus", default=None, metavar="DIR", help="keep (and start from) coverage-increasing runs here")
    p.add_argument("--json", default=None, metavar="FILE", help="write the summary as JSON")
    p.add_argument("--regressions", default=DEFAULT_REGRESSIONS, metavar="DIR",
                   help=f"where shrunk reproductions go (default {DEFAULT_REGRESSIONS}; "
                        "scenarios/regressions to commit one)")
    p.add_argument("--no-shrink", action="store_true", help="report failures without shrinking them")
    p.add_argument("--shrink-attempts", type=_count, default=300, help="candidate runs per shrink (default 300)")
    p.add_argument("--list-kinds", action="store_true", help="list generated and ungenerated event kinds")
    p.set_defaults(func=cmd_fuzz)


def _list_kinds(backend: str) -> int:
    from harness.fuzz.generate import GENERATORS, HARNESS_LIMITS, runnable_on, ungenerated_kinds

    for kind, gen in sorted(GENERATORS.items()):
        where = "" if runnable_on(kind, backend) else f"  (not on {backend})"
        print(f"{kind:<20} weight {gen.weight}{where}")
    missing = ungenerated_kinds()
    print(f"not generated yet: {', '.join(missing) if missing else 'none'}")
    for name, why in HARNESS_LIMITS.items():
        print(f"never drawn ({name}): {why}")
    return EXIT_OK


def _options(args: argparse.Namespace) -> Any:
    from harness.fuzz.campaign import CampaignOptions
    from harness.fuzz.generate import GENERATORS, FuzzConfig, Weights, WeightsError, load_weights

    weights = load_weights(args.weights) if args.weights else Weights()
    events = None
    if args.events:
        events = tuple(e.strip() for e in args.events.split(",") if e.strip())
        unknown = [e for e in events if e not in GENERATORS]
        if unknown:
            raise WeightsError(f"--events: no generated event kind {', '.join(map(repr, unknown))} "
                               f"(kinds: {', '.join(sorted(GENERATORS))})")
    if args.until < args.cycle:
        raise WeightsError("--until: expected at least one --cycle")
    config = FuzzConfig(backend=args.backend, until=args.until, cycle=args.cycle, events=events, weights=weights)
    return CampaignOptions(
        seed=args.seed, runs=args.runs, config=config, workers=max(1, args.workers), cluster=args.cluster,
        coverage=args.coverage, corpus=Path(args.corpus) if args.corpus else None,
        time_budget=args.time_budget.total_seconds() if args.time_budget else None,
        shrink=not args.no_shrink, shrink_attempts=args.shrink_attempts, regressions=Path(args.regressions),
        only_run=args.run,
    )


class _Bar:
    """Runs, failures and runs/s: a rich bar on a terminal, a line per generation in logs."""

    def __init__(self, total: int) -> None:
        import time

        self.tty = sys.stdout.isatty()
        self.start = time.monotonic()  # dst-ok: display only
        self.bar: Any = None
        self.task: Any = None
        if self.tty:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(TextColumn("fuzz"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[failures]} failed, {task.fields[rate]} runs/s"),
                                TimeElapsedColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("fuzz", total=total, failures=0, rate="-")

    def __call__(self, done: int, total: int, failures: int) -> None:
        import time

        elapsed = time.monotonic() - self.start  # dst-ok: display only
        rate = f"{done / elapsed:.2f}" if elapsed > 0 else "-"
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total, failures=failures, rate=rate)
        else:
            print(f"fuzz: {done}/{total} runs, {failures} failed, {rate} runs/s", flush=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def cmd_fuzz(args: argparse.Namespace) -> int:
    from harness.fuzz.campaign import run_campaign
    from harness.fuzz.cluster import ClusterError

    if args.list_kinds:
        return _list_kinds(args.backend)
    try:
        options = _options(args)
    except HarnessError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    if options.corpus is not None and not options.coverage:
        print("--corpus needs --coverage (the corpus keeps runs that reached new branches)", file=sys.stderr)
        return EXIT_USAGE
    where = f"cluster {options.cluster}" if options.cluster else f"{options.workers} worker(s)"
    print(f"fuzz: seed {options.seed}, {options.runs if options.only_run is None else 1} run(s) on "
          f"{options.config.backend}, {where}; run K's seed = run_seed({options.seed}, K)", flush=True)
    bar = _Bar(options.runs if options.only_run is None else 1)
    try:
        result = run_campaign(options, progress=bar)
    except (HarnessError, ClusterError) as exc:
        bar.stop()
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    finally:
        bar.stop()
    summary = result.summary()
    for v in result.verdicts:
        if v.failed or options.only_run is not None:
            print(f"run {v.run} (seed {v.seed}): {v.signature or 'passed'}"
                  f"{': ' + v.detail[:200] if v.detail else ''}")
    _print_summary(summary)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
        print(f"wrote {args.json}")
    return EXIT_FAILED if result.failures else EXIT_OK


def _print_summary(s: dict[str, Any]) -> None:
    print(f"runs {s['runs']}, events {s['events']}, invariant checks {s['invariant_checks']}, "
          f"failures {s['failures']}, {s['runs_per_s']} runs/s ({s['elapsed_s']} s, {s['workers']})"
          + (" - stopped by the time budget" if s["stopped_early"] else ""))
    for signature, count in s["failures_by_signature"].items():
        print(f"  {signature}: {count} run(s)")
    if s["stops_by_kind"]:
        print("  runner stops (not failures): " + ", ".join(f"{k} {n}" for k, n in s["stops_by_kind"].items()))
    if "coverage" in s:
        c = s["coverage"]
        print(f"runner coverage: {c['branches_covered']}/{c['branches']} branches, "
              f"{c['lines_covered']}/{c['lines']} lines ({c['percent']}%); corpus +{c['corpus_added']}")
    print(f"distinct shrunk reproductions: {s['distinct_reproductions']}")
    for r in s["reproductions"]:
        print(f"  {r['signature']}: {r['path']} ({r['original_events']} -> {r['events']} events"
              f"{'' if r['stable'] else ', NOT stable on re-run'})")
        print(f"    replay: {r['replay']}")
    print(f"digest {s['digest']}")


__all__ = ["add_parser", "cmd_fuzz"]
