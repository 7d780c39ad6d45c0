"""A hostile campaign of our own: malformed and extreme scenario files against ``check``.

Mutations of the bundled scenarios (wrong types, huge and tiny numbers, deep nesting,
aliases and alias bombs, unicode, missing and extra keys, binary junk, truncation) are
fed to the loader in process (Hypothesis, derandomized, a deadline per case) and to the
``harness check`` command (a fixed-seed batch, under a memory cap and a time limit).
Whatever the input: exit code 0 or 1, never a traceback, every error line located as
``file:line: ``, no hang, no memory blow-up.
"""

from __future__ import annotations

import random
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ScenarioError, ScenarioErrors
from harness.scenario import load_scenario
from tests.hostile.mutations import Drawn, Seeded, mutate

SEED = 20261125
CASE_SECONDS = 5  # per case, in process (a normal case takes milliseconds)
MEMORY_CAP = 1 << 30  # address space of the `harness check` subprocess


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail a case that runs too long instead of hanging the suite."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"a case ran longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_located(message: str, file: str) -> None:
    located = re.compile(re.escape(file) + r":\d+(:\d+)?: ")
    for line in message.splitlines():
        assert located.match(line), f"not located: {line!r}"


@st.composite
def hostile_files(draw: Callable[[Any], Any]) -> bytes:
    return mutate(Drawn(draw))


@settings(max_examples=250, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=hostile_files())
def test_in_process(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The loader returns a Scenario or raises located ScenarioErrors; nothing else, quickly."""
    path = tmp_path_factory.mktemp("hostile") / "case.yaml"
    path.write_bytes(data)
    try:
        with time_limit(CASE_SECONDS):
            load_scenario(path)
    except (ScenarioError, ScenarioErrors) as exc:
        assert_located(str(exc), str(path))


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_harness_check_command(tmp_path: Path) -> None:
    """``harness check`` on a fixed-seed batch: exit 0 or 1, no traceback, located errors."""
    pick = Seeded(random.Random(SEED))
    files = []
    for index in range(120):
        path = tmp_path / f"case{index:03}.yaml"
        path.write_bytes(mutate(pick))
        files.append(path)
    script = "import sys; from harness.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", script, "check", *map(str, files)],
        capture_output=True, text=True, timeout=120, preexec_fn=_capped, cwd=tmp_path,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in (0, 1), done.stderr[-3000:]
    names = "|".join(re.escape(str(path)) for path in files)
    for line in done.stderr.splitlines():
        assert re.match(rf"({names}):\d+(:\d+)?: ", line), f"not located: {line!r}"
    for line in done.stdout.splitlines():
        assert re.match(rf"({names}): ok \(", line), line
    assert done.returncode == 1 and done.stdout  # the batch holds both kinds of file
