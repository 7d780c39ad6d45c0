"""Run the planted-bug catalogue: does the harness catch each bug, and with what?

For each mutant: the repository's `runner/`, `harness/`, `fixtures/`, the scenarios and
this package are copied to a scratch directory, the bug is planted there, and the
mutant's scenarios run in a child Python whose imports come from that copy, on the
revm backend. Snapshots are not consulted (a user who regenerated them from the buggy
code would not see a diff): a bug counts as caught by what the harness itself judges,
the invariants first, then the scenario's expectations and the runner stopping itself
(its accounting check aborting, say).

    python -m tests.mutants.run                 # every mutant; table to stdout, build/mutants.{md,json}
    python -m tests.mutants.run --only sync-rebase-sign --only valuation-at-mid
    python -m tests.mutants.run --check         # every patch applies exactly once, nothing runs

The same code gives the same table on every run: the runs are deterministic, and the
table holds no timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.mutants.catalogue import CATALOGUE, REPO, Mutant

COPIED = ("runner", "harness", "fixtures", "scenarios", "tests/__init__.py", "tests/mutants")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "node_modules", "build", "runs")
BACKEND = "revm"
CHILD_TIMEOUT = 600  # seconds: a mutant that hangs the runner is reported, not waited for


class CopyImportedTheWrongCode(RuntimeError):
    """The child imported the runner from somewhere other than its scratch copy."""


@dataclass
class ScenarioOutcome:
    """What the harness said about one scenario run of one mutant (plain values)."""

    scenario: str
    violations: list[dict[str, str]] = field(default_factory=list)  # invariant, at, block, expected, found, detail
    failed_expectations: list[str] = field(default_factory=list)
    error: str | None = None  # the runner stopped itself (abort policy, a refused trade, ...)
    crash: str | None = None  # the run died with an exception the engine does not handle


@dataclass
class MutantOutcome:
    id: str
    area: str
    description: str
    scenarios: list[ScenarioOutcome]

    @property
    def invariants(self) -> list[str]:
        """The invariants that reported a violation, in the order they first did."""
        out: list[str] = []
        for s in self.scenarios:
            for v in s.violations:
                if v["invariant"] not in out:
                    out.append(v["invariant"])
        return out

    @property
    def caught_by(self) -> str:
        """What caught the bug: invariants, else expectations, else the runner's own stop."""
        if self.invariants:
            crashed = sorted({s.crash.partition(":")[0] for s in self.scenarios if s.crash and s.violations})
            after = f" (then the runner crashed: {', '.join(crashed)})" if crashed else ""
            return ", ".join(self.invariants) + after
        what = []
        if any(s.failed_expectations for s in self.scenarios):
            what.append("expectation")
        if any(s.error for s in self.scenarios):
            what.append("runner stopped: " + next(s.error for s in self.scenarios if s.error))
        if any(s.crash for s in self.scenarios):
            what.append("crash: " + next(s.crash for s in self.scenarios if s.crash))
        return "; ".join(what) or "NOT CAUGHT"

    @property
    def by_invariant(self) -> bool:
        return bool(self.invariants)

    @property
    def first(self) -> str:
        """Where the first violation was reported: scenario, instant and block."""
        for s in self.scenarios:
            if s.violations:
                v = s.violations[0]
                how = ", post-mortem" if v.get("post_mortem") else ""
                return f"{Path(s.scenario).stem} at {v['at']}, block {v['block']} ({v['invariant']}{how})"
        for s in self.scenarios:
            if s.failed_expectations:
                return f"{Path(s.scenario).stem}: {s.failed_expectations[0]}"
        return ""


# -- the child: runs scenarios in the scratch copy -------------------------------------------

POST_MORTEM = re.compile(r"^(?P<when>post-mortem|before the crash): invariant (?P<invariant>\S+) violated at (?P<at>\S+) .*?, block (?P<block>\d+): "
                         r"(?P<detail>.*?); chain/rule: (?P<expected>.*?); ledger: (?P<found>.*)$")


def post_mortem(exc: BaseException) -> list[dict[str, str]]:
    """The violations the engine attached to a runner's unhandled error: the first of each
    invariant before the crash, then what the post-mortem found in the state it died with."""
    out = []
    for note in getattr(exc, "__notes__", []):
        match = POST_MORTEM.match(note.splitlines()[0])
        if match:
            fields = match.groupdict()
            when = fields.pop("when")
            out.append({**fields, **({"post_mortem": "yes"} if when == "post-mortem" else {})})
    return out



def child(scenarios: list[str], out: Path) -> None:
    """Run `scenarios` with whatever code this interpreter imports (the scratch copy)."""
    import runner
    from harness.engine import ScenarioRun
    from harness.errors import HarnessError
    from harness.scenario import load_scenario

    here = Path.cwd().resolve()
    if not Path(runner.__file__).resolve().is_relative_to(here):
        raise CopyImportedTheWrongCode(f"runner imported from {runner.__file__}, not from {here}")
    results = []
    for path in scenarios:
        outcome = ScenarioOutcome(path)
        try:
            with tempfile.TemporaryDirectory(prefix="dst-mutant-") as tmp:
                result = ScenarioRun(load_scenario(Path(path)), backend=BACKEND, state_dir=Path(tmp)).run()
        except HarnessError as exc:
            outcome.crash = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        except Exception as exc:  # noqa: BLE001 - a buggy runner may raise anything; that is a finding
            outcome.crash = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:200]
            outcome.violations = post_mortem(exc)
        else:
            outcome.violations = [{"invariant": v.invariant, "at": v.at, "block": str(v.block),
                                   "expected": v.expected, "found": v.found, "detail": v.detail}
                                  for v in result.unexpected_violations]
            outcome.failed_expectations = [f"line {e.line} {e.kind}: {e.message}" for e in result.failed_expectations]
            if result.error and result.unexpected_error:
                outcome.error = result.error_kind or "error"
        results.append(asdict(outcome))
    out.write_text(json.dumps(results, indent=1, sort_keys=True))


# -- the parent: scratch copies, one child per mutant ---------------------------------------------


def scratch_copy(into: Path) -> None:
    for rel in COPIED:
        src, dst = REPO / rel, into / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=IGNORED)
        else:
            shutil.copy2(src, dst)


def plant(mutant: Mutant | None, root: Path) -> None:
    if mutant is None:
        return
    path = root / mutant.file
    path.write_text(mutant.apply(path.read_text()))


def run_one(mutant: Mutant | None, scenarios: list[str]) -> list[ScenarioOutcome]:
    """Copy, plant, run the scenarios in a child; what the harness said about each."""
    with tempfile.TemporaryDirectory(prefix="dst-mutants-") as tmp:
        root = Path(tmp)
        scratch_copy(root)
        plant(mutant, root)
        out = root / "outcome.json"
        env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "0"}
        node_modules = REPO / "node_modules"
        if node_modules.exists():
            os.symlink(node_modules.resolve(), root / "node_modules")
        proc = subprocess.run([sys.executable, "-m", "tests.mutants.run", "--child", str(out), *scenarios],
                              cwd=root, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False)
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            return [ScenarioOutcome(s, crash=f"child exited {proc.returncode}: {tail}") for s in scenarios]
        return [ScenarioOutcome(**o) for o in json.loads(out.read_text())]


def table(outcomes: list[MutantOutcome]) -> str:
    lines = ["| bug | area | what it is | caught by | first caught |", "|---|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| `{o.id}` | {o.area} | {o.description} | {o.caught_by} | {o.first} |")
    caught = sum(o.by_invariant for o in outcomes)
    lines.append("")
    lines.append(f"{caught} of {len(outcomes)} planted bugs caught by the invariants.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants.run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="run only this mutant (repeatable)")
    parser.add_argument("--check", action="store_true", help="check that every patch applies, run nothing")
    parser.add_argument("--out", default=str(REPO / "build"), help="where mutants.md and mutants.json go")
    parser.add_argument("--child", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("scenarios", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.scenarios, Path(args.child))
        return 0
    unknown = sorted(set(args.only) - {m.id for m in CATALOGUE})
    if unknown:
        parser.error(f"no mutant named {', '.join(unknown)}")
    chosen = [m for m in CATALOGUE if not args.only or m.id in args.only]
    for m in chosen:
        m.apply((REPO / m.file).read_text())  # raises PatchDoesNotApply
        missing = [s for s in m.scenarios if not (REPO / s).is_file()]
        if missing:
            parser.error(f"{m.id}: no scenario {', '.join(missing)}")
    if args.check:
        print(f"{len(chosen)} patches apply exactly once")
        return 0
    baseline_scenarios = sorted({s for m in chosen for s in m.scenarios})
    baseline = run_one(None, baseline_scenarios)
    dirty = [s for s in baseline if s.violations or s.failed_expectations or s.error or s.crash]
    if dirty:
        print("the unpatched runner does not pass the mutants' scenarios cleanly:", file=sys.stderr)
        for s in dirty:
            print(f"  {s.scenario}: {s.violations[:1] or s.failed_expectations[:1] or s.error or s.crash}", file=sys.stderr)
        return 2
    outcomes = []
    for m in chosen:
        outcomes.append(MutantOutcome(m.id, m.area, m.description, run_one(m, list(m.scenarios))))
        print(f"{m.id}: {outcomes[-1].caught_by}", file=sys.stderr, flush=True)
    text = table(outcomes)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mutants.md").write_text(text + "\n")
    report: list[dict[str, Any]] = [{"id": o.id, "area": o.area, "description": o.description,
                                     "caught_by": o.caught_by, "invariants": o.invariants, "first": o.first,
                                     "scenarios": [asdict(s) for s in o.scenarios]} for o in outcomes]
    (out / "mutants.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    missed = [o.id for o in outcomes if not o.by_invariant]
    return 1 if len(missed) > 1 else 0


if __name__ == "__main__":
    sys.exit(main())
