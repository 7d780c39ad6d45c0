"""The hostile campaign against ``harness run``: files that ``check`` accepts must run to
a verdict, never to a traceback, a hang or a memory blow-up.

The check-side campaign (tests/unit/test_scenario_hostile.py) proves the loader refuses
what it must; this one proves that what it lets through is really runnable. Before the
validator was shared, 17 of 150 accepted files stopped `run` with a traceback (a token
without a pool, start years 1 and 9999, `price: 1e30`, `decimals: 36`, ...). Cases are
bundled scenarios with one or two plausible mutations (a value, a line, an entry kind),
kept only if the loader accepts them, drawn from a fixed seed, and run in one child
process (tests/hostile/run_cases.py) under a memory cap, each with a time limit.
"""

from __future__ import annotations

import json
import random
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ScenarioError, ScenarioErrors
from harness.scenario import load_scenario
from tests.hostile.mutations import PLAUSIBLE, ROOT, Seeded, mutate
from tests.hostile.run_cases import CASE_SECONDS

SEED = 20261202
# (20261201's batch, once regressions/invariant-trades-match-chain-s1-r24 joined the bundled
# scenarios, drew two mutants of that file, which has no expectations to fail: 2 failed runs)
CASES = 60
MEMORY_CAP = 3 << 30  # address space of the child: revm, the harness and one run


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def accepted_cases(directory: Path) -> list[Path]:
    """The first CASES seeded mutants the loader accepts (as `harness check` would)."""
    pick = Seeded(random.Random(SEED))
    cases: list[Path] = []
    for _attempt in range(CASES * 40):
        path = directory / f"case{len(cases):03}.yaml"
        path.write_bytes(mutate(pick, PLAUSIBLE, most=2))
        try:
            load_scenario(path)
        except (ScenarioError, ScenarioErrors):
            continue
        cases.append(path)
        if len(cases) == CASES:
            break
    return cases


def run_batch(files: list[Path], out: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.hostile.run_cases", str(out), *map(str, files)],
        capture_output=True, text=True, timeout=CASE_SECONDS * len(files) + 60, preexec_fn=_capped, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def explained(verdict: dict[str, Any]) -> bool:
    """A failed run says why, located: an error `file:line: ...` or a `FAIL file:line` line."""
    name = re.escape(verdict["file"])
    text = verdict["stderr"] + verdict.get("stdout", "")
    return re.search(rf"(^|\n)(\s*FAIL\s+)?{name}:\d+(:\d+)?[: ]", text) is not None


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    root = tmp_path_factory.mktemp("hostile-run")
    cases = accepted_cases(root)
    assert len(cases) == CASES, f"only {len(cases)} accepted mutants: the mutations are too destructive"
    return run_batch(cases, root / "out")


def test_every_accepted_file_runs_to_a_verdict(verdicts: list[dict[str, Any]]) -> None:
    """No traceback, no hang, no MemoryError: exit 0 or 1, whatever the mutation."""
    assert len(verdicts) == CASES
    bad = [(v["file"], v["escaped"] or "hang") for v in verdicts if v["escaped"] or v["hang"]]
    assert bad == []
    assert sorted({v["exit"] for v in verdicts}) in ([0], [0, 1], [1])
    assert not any("Traceback" in v["stderr"] for v in verdicts)


def test_every_failed_run_says_where(verdicts: list[dict[str, Any]]) -> None:
    """A run that exits 1 names the file and line of what failed (an expectation, an error)."""
    unexplained = [v["file"] for v in verdicts if v["exit"] == 1 and not explained(v)]
    assert unexplained == []


def test_the_batch_is_not_trivial(verdicts: list[dict[str, Any]]) -> None:
    """Mutants that change nothing would prove nothing: some runs must fail their own
    expectations (a changed amount, a deleted event), and most must still run."""
    exits = [v["exit"] for v in verdicts]
    assert exits.count(1) >= 3 and exits.count(0) >= CASES // 2


def test_the_driver_reports_an_escaped_exception(tmp_path: Path) -> None:
    """The oracle itself can fail: an exception planted in place of `harness run` is
    reported as escaped, not as a clean exit."""
    verdict = subprocess.run(
        [sys.executable, "-c",
         "import json, harness.cli as c, tests.hostile.run_cases as r\n"
         "def boom(argv): raise RuntimeError('planted')\n"
         "r.harness_main = boom\n"
         "print(json.dumps(r.run_case(__import__('pathlib').Path('x.yaml'), __import__('pathlib').Path('o'))))"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    found = json.loads(verdict.stdout)
    assert "RuntimeError: planted" in found["escaped"] and found["exit"] is None
