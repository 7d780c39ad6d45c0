"""Shrinking a failing run to a scenario a person can read, still failing the same way.

The shrinker edits the scenario document (what the file says), never a choice sequence,
so every step is one a person would take and every candidate is an ordinary scenario,
validated by the model and run by the engine. A candidate is kept when the same failure
signature (`invariant:NAME`, or the unexpected error's kind) comes back. Passes, repeated
until none makes progress or the attempt budget is spent:

1. **until**: the run stops at the earliest tick that still fails (bisection over cycles);
   events after it go.
2. **drop events**: halves, quarters, ... single events (delta debugging).
3. **earlier**: each event moved to 0s, else to the tick at or before it.
4. **universe**: the vault back to legacy (every pool on the fixture AMM with it), else
   every pool on the fixture AMM, else each pool's `dex -> fixture`; a token (with its
   pools and the events that name it), a pool not needed for routing, a token's rebasing,
   transfer fee or unusual decimals, an investor.
5. **strategy and policy**: each strategy parameter back to its default, the accounting
   policy and trigger checks back to the defaults.
6. **values**: amounts, moves and counts rounded down to one significant digit, then halved.

The attempt budget is a count (deterministic); a wall-clock deadline may stop shrinking
early (`# dst-ok`: it changes how small the result is, never what a run does).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from harness.errors import HarnessError
from harness.fuzz.emit import render
from harness.fuzz.generate import Doc, carried_out, event_kind, vault_entries
from harness.scenario import parse_scenario_text
from harness.scenario.quantities import format_duration, parse_duration
from runner.strategy.validation import format_decimal
from runner.universe import Dex, VaultKind

Test = Callable[[str], bool]
"""Scenario text -> whether it fails with the signature being shrunk."""


@dataclass
class ShrinkResult:
    doc: Doc
    text: str
    attempts: int = 0  # candidate runs
    steps: dict[str, int] = field(default_factory=dict)  # accepted steps by kind
    log: list[str] = field(default_factory=list)  # what each accepted step did, in order

    def summary(self) -> str:
        kinds = ", ".join(f"{k} x{n}" for k, n in self.steps.items()) or "none"
        return f"{self.attempts} candidate runs, {sum(self.steps.values())} accepted ({kinds})"


def _valid(doc: Doc) -> str | None:
    """The candidate's text if the model accepts it (the same validation as harness run)."""
    doc = {**doc, "timeline": carried_out(doc.get("timeline", []))}
    text = render(doc)
    try:
        parse_scenario_text(text, "<shrink>")
    except HarnessError:
        return None
    return text


class Shrinker:
    """Greedy, pass-based reduction of one failing document."""

    def __init__(self, doc: Doc, test: Test, *, max_attempts: int = 300, deadline: float | None = None) -> None:  # float-ok: a wall-clock deadline, not money
        text = _valid(doc)
        if text is None:
            raise ValueError("the document to shrink does not validate")
        self.result = ShrinkResult(copy.deepcopy(doc), text)
        self.test = test
        self.max_attempts = max_attempts
        self.deadline = deadline

    def _out_of_budget(self) -> bool:
        if self.result.attempts >= self.max_attempts:
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline  # dst-ok: stops early only

    def _try(self, candidate: Doc, step: str, what: str) -> bool:
        if self._out_of_budget():
            return False
        text = _valid(candidate)
        if text is None or text == self.result.text:
            return False
        self.result.attempts += 1
        if not self.test(text):
            return False
        candidate = {**candidate, "timeline": carried_out(candidate.get("timeline", []))}
        self.result.doc, self.result.text = candidate, text
        self.result.steps[step] = self.result.steps.get(step, 0) + 1
        self.result.log.append(what)
        return True

    def run(self) -> ShrinkResult:
        passes = (self._until, self._drop_events, self._earlier, self._universe, self._strategy, self._values)
        progress = True
        while progress and not self._out_of_budget():
            progress = False
            for step in passes:
                if step():
                    progress = True
        self.result.doc = {**self.result.doc, "timeline": carried_out(self.result.doc.get("timeline", []))}
        return self.result

    # -- passes ------------------------------------------------------------------------
    @property
    def doc(self) -> Doc:
        return self.result.doc

    def _until(self) -> bool:
        clock = self.doc["clock"]
        cycle, until = parse_duration(str(clock["cycle"])), parse_duration(str(clock["until"]))
        ticks = int(until / cycle)
        low, high, moved = 0, ticks, False
        while low < high and not self._out_of_budget():
            mid = (low + high) // 2
            if self._try(_with_until(self.doc, cycle * mid), "until",
                         f"until {format_duration(cycle * high)} -> {format_duration(cycle * mid)}"):
                high, moved = mid, True
            else:
                low = mid + 1
        return moved

    def _drop_events(self) -> bool:
        progress = False
        size = max(1, len(self.doc["timeline"]) // 2)
        while size >= 1 and not self._out_of_budget():
            start = 0
            while start < len(self.doc["timeline"]) and not self._out_of_budget():
                timeline = self.doc["timeline"]
                chunk = timeline[start:start + size]
                candidate = {**self.doc, "timeline": timeline[:start] + timeline[start + size:]}
                kinds = ", ".join(sorted({event_kind(e) for e in chunk}))
                if self._try(candidate, "drop events", f"dropped {len(chunk)} event(s) ({kinds})"):
                    progress = True
                else:
                    start += size
            size //= 2
        return progress

    def _earlier(self) -> bool:
        progress = False
        cycle = parse_duration(str(self.doc["clock"]["cycle"]))
        index = 0
        while index < len(self.doc["timeline"]) and not self._out_of_budget():
            entry = self.doc["timeline"][index]
            at = parse_duration(str(entry["at"])) if not isinstance(entry["at"], timedelta) else entry["at"]
            targets = [timedelta(0), cycle * int(at / cycle), at - cycle]
            for target in targets:
                if timedelta(0) <= target < at and (event_kind(entry) != "reorg" or target > parse_duration(str(entry["reorg"]))):
                    timeline = list(self.doc["timeline"])
                    timeline[index] = {**entry, "at": format_duration(target)}
                    timeline.sort(key=lambda e: _offset(e["at"]))
                    if self._try({**self.doc, "timeline": timeline}, "earlier",
                                 f"{event_kind(entry)} at {format_duration(at)} -> {format_duration(target)}"):
                        progress = True
                        break
            index += 1
        return progress

    def _venues(self) -> bool:
        """The real protocols out where the failure does not need them: the legacy vault
        (which trades the fixture AMM only), else every pool on the fixture AMM, else
        one pool at a time (a candidate mixing exchanges on a route does not validate)."""
        on_dex = [i for i, p in enumerate(self.doc["universe"]["pools"]) if p.get("dex", Dex.fixture) != Dex.fixture]
        if "vault" in self.doc:
            fixture = {k: v for k, v in _on_fixture(self.doc, on_dex).items() if k != "vault"}
            candidate = {**fixture, **vault_entries(VaultKind.legacy.value)}
            if self._try(candidate, "universe", "vault -> legacy"):
                return True
        if len(on_dex) > 1 and self._try(_on_fixture(self.doc, on_dex), "universe", "every pool's dex -> fixture"):
            return True
        progress = False
        for index in on_dex:
            pool = self.doc["universe"]["pools"][index]
            if self._try(_on_fixture(self.doc, [index]), "universe", f"{pool['pair']}: dex {pool['dex']} -> fixture"):
                progress = True
        return progress

    def _universe(self) -> bool:
        progress = self._venues()
        universe = self.doc["universe"]
        for symbol in [s for s in universe["tokens"] if s != universe["reserve"]]:
            if symbol in self.doc["universe"]["tokens"] and self._try(
                    _without_token(self.doc, symbol), "universe", f"dropped token {symbol}"):
                progress = True
        for pool in list(self.doc["universe"]["pools"]):
            pair = pool["pair"]
            if any(e.get(event_kind(e), {}) == pair or _mentions(e, pair) for e in self.doc["timeline"]):
                continue
            candidate = copy.deepcopy(self.doc)
            candidate["universe"]["pools"] = [p for p in candidate["universe"]["pools"] if p["pair"] != pair]
            if self._try(candidate, "universe", f"dropped pool {pair}"):
                progress = True
        for symbol, spec in list(self.doc["universe"]["tokens"].items()):
            if symbol == self.doc["universe"]["reserve"]:
                continue
            for key, plain in (("rebasing", None), ("transfer_fee", None), ("decimals", 18)):
                if key in spec and spec[key] != plain:
                    candidate = copy.deepcopy(self.doc)
                    if plain is None:
                        del candidate["universe"]["tokens"][symbol][key]
                    else:
                        candidate["universe"]["tokens"][symbol][key] = plain
                    if self._try(candidate, "universe", f"{symbol}: {key} -> {plain if plain is not None else 'default'}"):
                        progress = True
        investors = list(self.doc.get("investors", []))
        used = {_by(e) for e in self.doc["timeline"]} - {None}
        for name in investors[1:] if len(investors) > 1 else []:
            if name in used:
                candidate = copy.deepcopy(self.doc)
                for entry in candidate["timeline"]:
                    body = entry[event_kind(entry)]
                    if isinstance(body, dict) and body.get("by") == name:
                        body["by"] = investors[0]
                if self._try(candidate, "universe", f"{name}'s events made {investors[0]}'s"):
                    progress = True
        investors = list(self.doc.get("investors", []))
        used = {_by(e) for e in self.doc["timeline"]} - {None}
        keep = [n for i, n in enumerate(investors) if i == 0 or n in used]
        if keep != investors and self._try({**self.doc, "investors": keep}, "universe",
                                           f"investors {len(investors)} -> {len(keep)}"):
            progress = True
        return progress

    def _strategy(self) -> bool:
        progress = False
        for name in list(self.doc["strategy"].get("parameters", {})):
            candidate = copy.deepcopy(self.doc)
            del candidate["strategy"]["parameters"][name]
            if self._try(candidate, "strategy", f"parameter {name} -> default"):
                progress = True
        if self.doc.get("accounting") not in (None, {"checks": True}) and self._try(
                {**self.doc, "accounting": {"checks": True}}, "policy", "accounting policy -> defaults"):
            progress = True
        if "trigger_checks" in self.doc["clock"]:
            clock = {k: v for k, v in self.doc["clock"].items() if k != "trigger_checks"}
            if self._try({**self.doc, "clock": clock}, "policy", "no trigger checks"):
                progress = True
        return progress

    def _values(self) -> bool:
        progress = False
        index = 0
        while index < len(self.doc["timeline"]) and not self._out_of_budget():
            entry = self.doc["timeline"][index]
            kind = event_kind(entry)
            body = entry[kind]
            if isinstance(body, dict):
                for key, value in list(body.items()):
                    for smaller in _smaller(value):
                        timeline = list(self.doc["timeline"])
                        timeline[index] = {**entry, kind: {**body, key: smaller}}
                        if self._try({**self.doc, "timeline": timeline}, "values",
                                     f"{kind}.{key} {value} -> {smaller}"):
                            progress = True
                            body = timeline[index][kind]
                            entry = timeline[index]
                            break
            index += 1
        return progress


def _offset(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else parse_duration(str(value))


def _with_until(doc: Doc, until: timedelta) -> Doc:
    clock = {**doc["clock"], "until": format_duration(until)}
    timeline = [e for e in doc["timeline"] if _offset(e["at"]) <= until]
    return {**doc, "clock": clock, "timeline": timeline}


def _on_fixture(doc: Doc, indices: list[int]) -> Doc:
    """The document with the pools at `indices` on the fixture AMM (their fees kept)."""
    out = copy.deepcopy(doc)
    for index in indices:
        out["universe"]["pools"][index].pop("dex", None)
    return out


def _mentions(entry: Doc, text: str) -> bool:
    body = entry[event_kind(entry)]
    values = body.values() if isinstance(body, dict) else [body]
    return any(isinstance(v, str) and (v == text or text in v.split("/")) for v in values) or any(
        isinstance(v, dict) and text in v for v in values)


def _by(entry: Doc) -> str | None:
    body = entry[event_kind(entry)]
    return body.get("by") if isinstance(body, dict) else None


def _without_token(doc: Doc, symbol: str) -> Doc:
    """The document without a token, its pools, the events naming it and its weights."""
    out = copy.deepcopy(doc)
    out["universe"]["tokens"].pop(symbol)
    out["universe"]["pools"] = [p for p in out["universe"]["pools"] if symbol not in p["pair"].split("/")]
    out["timeline"] = [e for e in out["timeline"] if not _mentions(e, symbol)]
    params = out["strategy"].get("parameters", {})
    if isinstance(params.get("weights"), dict):
        params["weights"].pop(symbol, None)
    for entry in out["timeline"]:
        body = entry[event_kind(entry)]
        if event_kind(entry) == "set_parameter" and isinstance(body.get("value"), dict):
            body["value"].pop(symbol, None)
    return out


def _smaller(value: Any) -> Iterator[Any]:
    """Simpler versions of a number or percentage: one significant digit, then half."""
    if isinstance(value, bool) or value is None:
        return
    text = str(value)
    percent = text.endswith("%")
    sign = text[0] if text[:1] in "+-" else ""
    try:
        number = Decimal(text.rstrip("%").lstrip("+-"))
    except InvalidOperation:
        return
    if number <= 0:
        return
    exponent = number.adjusted()
    one_digit = number.scaleb(-exponent).to_integral_value(rounding=ROUND_DOWN).scaleb(exponent)  # never up: no oscillation
    candidates: list[Decimal] = []
    for c in (one_digit, number / 2):
        if c > 0 and c != number and c not in candidates:
            candidates.append(c)
    for c in candidates:
        shown = format_decimal(c)
        if percent:
            yield f"{sign}{shown}%"
        elif isinstance(value, int):
            if c == c.to_integral_value():
                yield int(c)
        elif isinstance(value, str):
            yield f"{sign}{shown}"
        else:
            yield -Decimal(shown) if sign == "-" else Decimal(shown)


def shrink(doc: Doc, test: Test, *, max_attempts: int = 300, deadline: float | None = None) -> ShrinkResult:  # float-ok: a wall-clock deadline, not money
    """The smallest document the passes reach for which `test` still holds."""
    return Shrinker(doc, test, max_attempts=max_attempts, deadline=deadline).run()


__all__ = ["ShrinkResult", "Shrinker", "shrink"]
