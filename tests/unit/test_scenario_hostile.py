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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ScenarioError, ScenarioErrors
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASES = sorted(path.read_text() for path in (ROOT / "scenarios").rglob("*.yaml"))
SEED = 20261125
CASE_SECONDS = 5  # per case, in process (a normal case takes milliseconds)
MEMORY_CAP = 1 << 30  # address space of the `harness check` subprocess
T = TypeVar("T")

HOSTILE_VALUES = [
    "9" * 5000,
    "-" + "9" * 4301,
    "1e-999999999",
    "1e999999999",
    "-1",
    "0",
    "0.0000000000000000000000000000000001",
    "2_000_000_000_000_000_000_000_000_000_000",
    ".nan",
    ".inf",
    "~",
    "",
    "''",
    "true",
    "yes",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: {b: {c: 1}}}",
    "999999999999999w",
    "1s",
    "0s",
    "52w",
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59+14:00",
    "2024-02-30T00:00:00Z",
    "'\u202e\u0000x'",
    "\"\\u0000\\ud800\"",
    "日本語",
    "🙂",
    "x" * 20_000,
    "!!python/object/apply:os.system ['true']",
    "!!binary AAAA",
    "!!int abc",
    "!!float 1.5",
    "*undefined",
    "&anchor 1",
    "%",
    "50%%",
    "scenario:/etc/passwd",
    "scenario:../../../../dev/zero.yaml",
    "'scenario:" + "a/" * 300 + "x.yaml'",
    "runner.strategies",
    "os",
    "0x" + "f" * 40,
    "USDC/USDC",
    "WETH/WETH/WETH",
]
BOMB = "&a0 [l, l, l, l, l, l, l, l, l, l]" + "".join(
    f", &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)
)


class Chooser(Protocol):
    """What a mutation needs: pick from a sequence, pick a number."""

    def choice(self, items: Sequence[T]) -> T: ...

    def integer(self, low: int, high: int) -> int: ...


class Seeded:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choice(self, items: Sequence[T]) -> T:
        return self.rng.choice(items)

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)


class Drawn:
    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self.draw = draw

    def choice(self, items: Sequence[T]) -> T:
        return self.draw(st.sampled_from(items))  # type: ignore[no-any-return]

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))  # type: ignore[no-any-return]


def _line(text: str, pick: Chooser) -> tuple[list[str], int]:
    lines = text.split("\n")
    return lines, pick.integer(0, max(0, len(lines) - 1))


def replace_value(text: str, pick: Chooser) -> str:
    """A scalar after ``key:`` becomes a hostile value."""
    spots = list(re.finditer(r"(?<=: )[^,{}\[\]\n]+", text))
    if not spots:
        return text
    spot = pick.choice(spots)
    return text[: spot.start()] + pick.choice(HOSTILE_VALUES) + text[spot.end() :]


def delete_line(text: str, pick: Chooser) -> str:
    lines, index = _line(text, pick)
    del lines[index]
    return "\n".join(lines)


def duplicate_line(text: str, pick: Chooser) -> str:
    lines, index = _line(text, pick)
    lines.insert(index, lines[index])
    return "\n".join(lines)


def insert_key(text: str, pick: Chooser) -> str:
    lines, index = _line(text, pick)
    indent = " " * pick.choice([0, 2, 4, 6])
    key = pick.choice(["nmae", "timeline", "expect", "source", "line", "<<", "kind", "at", "extra", "🙂"])
    lines.insert(index, f"{indent}{key}: {pick.choice(HOSTILE_VALUES)}")
    return "\n".join(lines)


def deep_nesting(text: str, pick: Chooser) -> str:
    depth = pick.choice([5, 31, 40, 200, 5000])
    nested = pick.choice(["[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth])
    return text.replace("parameters: {", f"parameters: {{deep: {nested}, ", 1) if "parameters: {" in text else text + f"\nx: {nested}\n"


def alias_bomb(text: str, pick: Chooser) -> str:
    where = pick.choice(["parameters: {", "timeline:\n", "description:"])
    if where == "parameters: {" and where in text:
        return text.replace(where, f"parameters: {{bomb: [{BOMB}], ", 1)
    if where == "timeline:\n" and where in text:
        return text.replace(where, f"timeline:\n  - {{at: 0s, set_parameter: {{name: weights, value: [{BOMB}]}}}}\n", 1)
    return text + f"\nbomb: [{BOMB}]\nagain: [*a6, *a6, *a6]\n"


def unicode_keys(text: str, pick: Chooser) -> str:
    key = pick.choice(["name", "clock", "pair", "amount", "at", "tokens"])
    return text.replace(f"{key}:", pick.choice([f"{key}\u200b:", f"{key.upper()}:", "ｎａｍｅ:", f"{key}\t:"]), 1)


def binary_junk(text: str, pick: Chooser) -> str:
    position = pick.integer(0, len(text))
    junk = bytes(pick.integer(0, 255) for _ in range(pick.integer(1, 16))).decode("latin-1")
    return text[:position] + junk + text[position:]


def truncate(text: str, pick: Chooser) -> str:
    return text[: pick.integer(0, len(text))]


def retype(text: str, pick: Chooser) -> str:
    """A whole section becomes a scalar, a list or null."""
    key = pick.choice(["clock", "universe", "strategy", "timeline", "expect", "chain", "accounting", "tokens", "pools"])
    replacement = pick.choice(["5", "[1, 2]", "~", "'x'", "{}"])
    return re.sub(rf"(?m)^(\s*{key}):.*$", rf"\1: {replacement}", text, count=1)


KINDS = ["deposit", "withdraw", "rebase", "interest", "price_shock", "fail_next_trade", "external_transfer",
         "crash", "set_parameter", "note", "mempool", "node_fault", "node_restart", "reorg", "position",
         "accounting", "trade", "nav", "balance_update", "error", "at"]


def swap_kind(text: str, pick: Chooser) -> str:
    """An entry's kind key becomes another kind: its body no longer fits."""
    spots = list(re.finditer(r"(?<=, )[a-z_]+(?=: )", text))
    if not spots:
        return text
    spot = pick.choice(spots)
    return text[: spot.start()] + pick.choice(KINDS) + text[spot.end() :]


MUTATIONS = [swap_kind, swap_kind, replace_value, replace_value, replace_value, delete_line, duplicate_line, insert_key,
             deep_nesting, alias_bomb, unicode_keys, binary_junk, truncate, retype]


def mutate(pick: Chooser) -> bytes:
    text = pick.choice(BASES)
    for _ in range(pick.integer(1, 3)):
        text = pick.choice(MUTATIONS)(text, pick)
    return text.encode("utf-8", "surrogatepass")


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
