"""Mutations that turn a bundled scenario into a malformed or extreme one.

Shared by the hostile tests of ``check`` (tests/unit/test_scenario_hostile.py) and of
``run`` (tests/integration/test_run_hostile.py), so both face the same attacks: wrong
types, huge and tiny numbers, deep nesting, aliases and alias bombs, unicode, missing
and extra keys, binary junk, truncation, swapped entry kinds. A `Chooser` abstracts the
source of choices so the same mutations run from a seeded `random.Random` (fixed
batches) or from Hypothesis draws (shrinkable examples).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
BASES = sorted(path.read_text() for path in (ROOT / "scenarios").rglob("*.yaml")
               if "regressions" not in path.relative_to(ROOT / "scenarios").parts)
"""The bundled scenarios, not the fuzzer's shrunk reproductions (scenarios/regressions/):
one is committed with every fix, and each would move every seeded draw of the fixed
batches (test_the_batch_is_not_trivial counted 2 failing runs of 60, not 3, once the
seed 1 run 78 reproduction was added)."""
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


# What can survive validation: one value or line changed. Structural junk (truncation,
# bombs, binary) is refused by the loader, so the run-side campaign would only test check.
PLAUSIBLE = [replace_value, replace_value, replace_value, duplicate_line, delete_line, swap_kind]


def mutate(pick: Chooser, mutations: Sequence[Callable[[str, Chooser], str]] = MUTATIONS, most: int = 3) -> bytes:
    text = pick.choice(BASES)
    for _ in range(pick.integer(1, most)):
        text = pick.choice(mutations)(text, pick)
    return text.encode("utf-8", "surrogatepass")
