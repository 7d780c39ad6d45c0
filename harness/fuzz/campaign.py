"""A campaign: runs 0..N-1 of a seed, executed anywhere, judged and shrunk in one place.

    for each generation (GENERATION runs, whatever the worker count):
        plan its runs (run K's document from run_seed(S, K); with --coverage, some are
                       mutants of corpus entries chosen with that same seed)
        execute them (in process, on local worker processes, or on a Dask cluster);
                      results come back in run order
        fold them in, in run order (counts, failures, new arcs -> corpus)
    shrink the first run of each distinct failure signature; write its reproduction

Determinism: a run's document depends on (S, K, config) and, with coverage, on the corpus
after the previous generations, which depends only on earlier runs' verdicts, folded in
run order. So the same seed gives the same documents, the same verdicts and the same
reproductions on every machine and for every worker count. A time budget stops the
campaign between generations (`# dst-ok`): it decides how many runs happen, never what one
does.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from harness.errors import HarnessError
from harness.fuzz.emit import render
from harness.fuzz.execute import Arc, Job, Verdict, close_worker, execute
from harness.fuzz.generate import (
    GENERATORS,
    STRATEGIES,
    Doc,
    FuzzConfig,
    WorldView,
    carried_out,
    event_kind,
    generate_document,
)
from harness.fuzz.rng import Draw, run_seed
from harness.fuzz.shrink import ShrinkResult, shrink
from harness.scenario import parse_scenario_text
from harness.scenario.quantities import format_duration, parse_duration
from harness.version import HARNESS_VERSION

GENERATION = 16
"""Runs planned together. Fixed, not derived from the worker count: with coverage, what
generation g draws depends on the corpus after generation g-1."""
MUTANT_CHANCE = 50
"""Percent of a coverage-guided generation's runs that mutate a corpus entry."""
REPO = Path(__file__).resolve().parents[2]


class CampaignError(HarnessError):
    """A campaign that cannot start (a bad corpus, an unreachable cluster): one line."""


# -- planning -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    run: int
    seed: int
    doc: Doc
    text: str
    parent: str | None = None  # the corpus entry this run mutates


def run_name(seed: int, run: int) -> str:
    return f"fuzz-s{seed}-r{run}"


def fresh(seed: int, run: int, config: FuzzConfig) -> Planned:
    """Run K of seed S drawn from nothing but run_seed(S, K) and the config."""
    rs = run_seed(seed, run)
    doc = generate_document(rs, config, name=run_name(seed, run),
                            description=f"Drawn by harness fuzz --seed {seed} --run {run} (run seed {rs}).")
    return Planned(run, rs, doc, render(doc))


def plan(seed: int, run: int, config: FuzzConfig, corpus: Sequence[tuple[str, Doc]]) -> Planned:
    """Run K: fresh, or (coverage-guided, with a corpus) a mutant of a corpus entry."""
    base = fresh(seed, run, config)
    if not corpus:
        return base
    d = Draw(base.seed).fork("mutate")
    if not d.chance(MUTANT_CHANCE):
        return base
    parent_id, parent = corpus[d.below(len(corpus))]
    doc = mutate(parent, d, config)
    doc = {**doc, "name": run_name(seed, run), "seed": base.seed % (1 << 63),
           "description": f"Drawn by harness fuzz --seed {seed} --run {run} --coverage: a mutant of corpus "
                          f"entry {parent_id} (run seed {base.seed})."}
    text = render(doc)
    try:
        parse_scenario_text(text, "<mutant>")
    except HarnessError:
        return base  # a mutation the model refuses: this run is drawn fresh instead
    return Planned(run, base.seed, doc, text, parent_id)


def view_of(doc: Doc, config: FuzzConfig) -> WorldView:
    """What event generators need, read back from a document (prices from its pools)."""
    universe = doc["universe"]
    reserve = universe["reserve"]
    prices: dict[str, Decimal] = {reserve: Decimal(1)}
    for _ in range(len(universe["pools"]) + 1):
        for pool in universe["pools"]:
            base, quote = pool["pair"].split("/")
            if quote in prices and base not in prices:
                prices[base] = Decimal(str(pool["price"])) * prices[quote]
    for symbol in universe["tokens"]:
        prices.setdefault(symbol, Decimal(1))
    clock = doc["clock"]
    return WorldView(reserve, universe["tokens"], universe["pools"], prices, tuple(doc.get("investors", ["alice"])),
                     doc["strategy"]["module"], doc["strategy"].get("parameters", {}), config.backend,
                     parse_duration(str(clock["cycle"])), parse_duration(str(clock["until"])))


def mutate(parent: Doc, d: Draw, config: FuzzConfig) -> Doc:
    """A near neighbour of a corpus entry: one to three edits of its timeline or strategy."""
    doc: Doc = copy.deepcopy(parent)
    doc["chain"] = {"backend": config.backend}
    view = view_of(doc, config)
    weights = config.kind_weights()
    timeline: list[Doc] = list(doc.get("timeline", []))
    for _ in range(d.integer(1, 3)):
        op = d.weighted({"add": 4, "drop": 2, "move": 2, "redraw": 2, "strategy": 1})
        if op == "add" and weights:
            kind = d.weighted(weights)
            at = view.cycle * d.integer(0, int(view.until / view.cycle))
            at += timedelta(hours=d.integer(0, 23)) if d.chance(50) and at < view.until else timedelta(0)
            body = GENERATORS[kind].draw(d, view, at)
            if body is not None:
                timeline.append({"at": format_duration(at), kind: body})
        elif op == "drop" and timeline:
            timeline.pop(d.below(len(timeline)))
        elif op == "move" and timeline:
            index = d.below(len(timeline))
            at = min(view.until, max(timedelta(0), parse_duration(str(timeline[index]["at"]))
                                     + timedelta(hours=d.integer(-24, 24))))
            timeline[index] = {**timeline[index], "at": format_duration(at)}
        elif op == "redraw" and timeline:
            index = d.below(len(timeline))
            kind = event_kind(timeline[index])
            if kind in GENERATORS:
                body = GENERATORS[kind].draw(d, view, parse_duration(str(timeline[index]["at"])))
                if body is not None:
                    timeline[index] = {"at": timeline[index]["at"], kind: body}
        elif op == "strategy" and view.strategy in STRATEGIES:
            doc["strategy"] = {"module": view.strategy,
                               "parameters": STRATEGIES[view.strategy][1](d, view.tradeable)}
    timeline.sort(key=lambda e: parse_duration(str(e["at"])))
    doc["timeline"] = carried_out(timeline)
    return doc


# -- executing ----------------------------------------------------------------------------


class Executor(Protocol):
    def map(self, jobs: Sequence[Job]) -> list[Verdict]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Runs in this process (one worker): what tests and `--workers 1` use; a patched
    runner in this process is the runner the campaign runs."""

    def map(self, jobs: Sequence[Job]) -> list[Verdict]:
        return [execute(job) for job in jobs]

    def close(self) -> None:
        close_worker()


class ProcessExecutor:
    """Local worker processes (spawned: no inherited node or chain), each with its own
    node and world snapshot for the campaign's life."""

    def __init__(self, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, jobs: Sequence[Job]) -> list[Verdict]:
        return list(self.pool.map(execute, jobs))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def executor_for(workers: int, cluster: str | None) -> Executor:
    if cluster is not None:
        from harness.fuzz.cluster import DaskExecutor

        return DaskExecutor(cluster)
    if workers <= 1:
        return InlineExecutor()
    return ProcessExecutor(workers)


# -- the campaign -------------------------------------------------------------------------


@dataclass
class CampaignOptions:
    seed: int
    runs: int
    config: FuzzConfig = field(default_factory=FuzzConfig)
    workers: int = 1
    cluster: str | None = None
    coverage: bool = False
    corpus: Path | None = None
    time_budget: float | None = None  # seconds of wall clock (stops between generations) (float-ok: seconds, not money)
    shrink: bool = True
    shrink_attempts: int = 300
    regressions: Path = REPO / "build" / "fuzz" / "regressions"
    only_run: int | None = None  # `--run K`: report (and shrink) only run K
    generation: int = GENERATION


@dataclass
class Reproduction:
    signature: str
    run: int
    seed: int
    path: Path
    events: int
    original_events: int
    shrink: ShrinkResult
    stable: bool


@dataclass
class CampaignResult:
    options: CampaignOptions
    verdicts: list[Verdict] = field(default_factory=list)
    reproductions: list[Reproduction] = field(default_factory=list)
    elapsed: float = 0.0  # float-ok: seconds, not money
    stopped_early: bool = False
    corpus_added: int = 0
    coverage: dict[str, Any] | None = None
    planned: dict[int, Planned] = field(default_factory=dict, repr=False)

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.failed]

    def by_signature(self) -> dict[str, int]:
        return dict(sorted(Counter(v.signature for v in self.failures if v.signature).items()))

    def digest(self) -> str:
        """One hash of every run's outcome: equal across machines and worker counts."""
        doc = json.dumps([v.outcome() for v in self.verdicts], sort_keys=True)
        return hashlib.sha256(doc.encode()).hexdigest()

    def summary(self) -> dict[str, Any]:
        runs = len(self.verdicts)
        out: dict[str, Any] = {
            "seed": self.options.seed, "backend": self.options.config.backend, "runs": runs,
            "events": sum(v.events for v in self.verdicts),
            "invariant_checks": sum(v.invariant_checks for v in self.verdicts),
            "failures": len(self.failures), "failures_by_signature": self.by_signature(),
            "stops_by_kind": dict(sorted(Counter(v.stop for v in self.verdicts if v.stop).items())),
            "reproductions": [{"signature": r.signature, "run": r.run, "path": str(r.path), "events": r.events,
                               "original_events": r.original_events, "shrink": r.shrink.summary(),
                               "stable": r.stable,
                               "replay": f"harness run {r.path} --backend {self.options.config.backend}"}
                              for r in self.reproductions],
            "distinct_reproductions": len(self.reproductions),
            "elapsed_s": round(self.elapsed, 2),  # dst-ok: reported, never decides
            "runs_per_s": round(runs / self.elapsed, 2) if self.elapsed else None,
            "workers": self.options.workers if self.options.cluster is None else f"cluster {self.options.cluster}",
            "stopped_early": self.stopped_early, "digest": self.digest(),
        }
        if self.coverage is not None:
            out["coverage"] = {**self.coverage, "corpus_added": self.corpus_added}
        out["results"] = [v.outcome() for v in self.verdicts]
        return out


ProgressFn = Callable[[int, int, int], None]  # runs done, runs planned, failures


def run_campaign(options: CampaignOptions, *, progress: ProgressFn | None = None,
                 executor: Executor | None = None) -> CampaignResult:
    """Plan, execute and judge the campaign; shrink each distinct failure."""
    result = CampaignResult(options)
    corpus = load_corpus(options.corpus) if options.coverage and options.corpus else []
    seen: set[Arc] = set()
    own = executor is None
    ex = executor or executor_for(options.workers, options.cluster)
    started = time.monotonic()  # dst-ok: for runs/s and the time budget only
    total = options.runs if options.only_run is None else options.only_run + 1
    try:
        for first in range(0, total, options.generation):
            if options.time_budget is not None and time.monotonic() - started >= options.time_budget:  # dst-ok
                result.stopped_early = True
                break
            indices = range(first, min(first + options.generation, total))
            if options.only_run is not None and not options.coverage:
                indices = range(options.only_run, options.only_run + 1) if options.only_run in indices else range(0)
            planned = [plan(options.seed, k, options.config, corpus if options.coverage else ()) for k in indices]
            jobs = [Job(p.run, p.seed, p.text, options.config.backend, options.coverage, f"<{run_name(options.seed, p.run)}>")
                    for p in planned]
            verdicts = ex.map(jobs) if jobs else []
            for p, v in zip(planned, verdicts, strict=True):
                if options.coverage and v.arcs is not None:
                    new = set(v.arcs) - seen
                    if new:
                        seen |= new
                        corpus.append((v.sha256[:16], p.doc))
                        result.corpus_added += 1
                        if options.corpus is not None:
                            save_corpus_entry(options.corpus, v.sha256[:16], p.text)
                    v.arcs = None  # folded in; not kept per run
                if options.only_run is None or p.run == options.only_run:
                    result.verdicts.append(v)
                    result.planned[p.run] = p
            if progress is not None and jobs:
                progress(len(result.verdicts), total if options.only_run is None else 1, len(result.failures))
        result.elapsed = time.monotonic() - started  # dst-ok
        if options.coverage:
            result.coverage = coverage_totals(seen)
        if options.shrink:
            result.reproductions = list(_reproduce(result, ex if isinstance(ex, InlineExecutor) else InlineExecutor()))
    finally:
        if own:
            ex.close()
        close_worker()
    return result


def _reproduce(result: CampaignResult, local: InlineExecutor) -> Iterator[Reproduction]:
    """The first failing run of each signature, shrunk in this process and written."""
    options = result.options
    done: set[str] = set()
    planned = result.planned
    for verdict in result.failures:
        assert verdict.signature is not None
        if verdict.signature in done:
            continue
        done.add(verdict.signature)
        p = planned[verdict.run]
        signature = verdict.signature

        def still_fails(text: str, signature: str = signature, p: Planned = p) -> bool:
            return local.map([Job(p.run, p.seed, text, options.config.backend)])[0].signature == signature

        shrunk = shrink(p.doc, still_fails, max_attempts=options.shrink_attempts)
        stable = still_fails(shrunk.text) and still_fails(shrunk.text)
        path = write_reproduction(options, verdict, shrunk, len(p.doc.get("timeline", [])))
        yield Reproduction(signature, verdict.run, verdict.seed, path, len(shrunk.doc.get("timeline", [])),
                           len(p.doc.get("timeline", [])), shrunk, stable)


def harness_commit() -> str:
    """The commit the harness runs from (for the reproduction's header), or its version."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or f"version {HARNESS_VERSION}"


def write_reproduction(options: CampaignOptions, verdict: Verdict, shrunk: ShrinkResult, original: int) -> Path:
    assert verdict.signature is not None
    what = verdict.signature.replace(":", "-").lower()
    stem = f"{what}-s{options.seed}-r{verdict.run}"
    doc = {**shrunk.doc, "name": stem,
           "description": f"Shrunk reproduction of {verdict.signature} found by harness fuzz --seed "
                          f"{options.seed} --run {verdict.run}; fails while the bug is there, passes once it is fixed."}
    options.regressions.mkdir(parents=True, exist_ok=True)
    path = options.regressions / f"{stem}.yaml"
    header = [
        f"Shrunk by harness fuzz: {verdict.signature} ({verdict.detail[:160]})",
        f"found by: harness fuzz --seed {options.seed} --run {verdict.run} --backend {options.config.backend}"
        f"{' --coverage' if options.coverage else ''} (run seed {verdict.seed})",
        f"harness commit: {harness_commit()}",
        f"shrink: {original} -> {len(doc.get('timeline', []))} events; {shrunk.summary()}",
        *[f"  - {line}" for line in shrunk.log],
        f"replay: harness run {path} --backend {options.config.backend}",
    ]
    path.write_text(render(doc, header))
    return path


# -- corpus and coverage ------------------------------------------------------------------


def load_corpus(directory: Path) -> list[tuple[str, Doc]]:
    """The corpus's scenario files, by file name, each validated as harness run would."""
    from harness.scenario.yamlnodes import compose_text, to_data

    if not directory.exists():
        return []
    out = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        try:
            parse_scenario_text(text, str(path))
        except HarnessError as exc:
            raise CampaignError(f"corpus {path}: {str(exc).splitlines()[0]}") from None
        root, _errors = compose_text(text, str(path))
        if root is not None:
            out.append((path.stem, to_data(root)))
    return out


def save_corpus_entry(directory: Path, ident: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{ident}.yaml").write_text(text)


def coverage_totals(arcs: Iterable[Arc]) -> dict[str, Any]:
    """Runner line and branch coverage of the campaign's union of arcs (coverage.py's own
    analysis of runner/, files never executed included)."""
    import io
    import tempfile

    from coverage import Coverage, CoverageData

    from harness.fuzz.execute import RUNNER_DIR

    by_file: dict[str, set[tuple[int, int]]] = {}
    root = Path(RUNNER_DIR).parent
    for rel, a, b in arcs:
        by_file.setdefault(str(root / rel), set()).add((a, b))
    with tempfile.TemporaryDirectory(prefix="dst-fuzz-cov-") as tmp:
        data_file = str(Path(tmp) / ".coverage")
        data = CoverageData(basename=data_file)
        data.add_arcs({k: sorted(v) for k, v in sorted(by_file.items())})
        data.write()
        cov = Coverage(data_file=data_file, branch=True, source=[RUNNER_DIR])
        cov.load()
        report = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(report))
        totals = json.loads(report.read_text())["totals"]
        cov.report(file=io.StringIO())
    return {"branches": totals["num_branches"], "branches_covered": totals["covered_branches"],
            "lines": totals["num_statements"], "lines_covered": totals["covered_lines"],
            "percent": totals["percent_covered_display"]}


__all__ = [
    "GENERATION",
    "CampaignError",
    "CampaignOptions",
    "CampaignResult",
    "InlineExecutor",
    "Planned",
    "ProcessExecutor",
    "Reproduction",
    "fresh",
    "mutate",
    "plan",
    "run_campaign",
    "write_reproduction",
]
