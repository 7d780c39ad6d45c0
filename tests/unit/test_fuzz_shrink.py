"""The shrinker's passes on a stand-in failure (no chain): what a person would cut, cut."""

from __future__ import annotations

from decimal import Decimal

from harness.fuzz.campaign import fresh
from harness.fuzz.generate import FuzzConfig, event_kind
from harness.fuzz.shrink import shrink
from harness.scenario import parse_scenario_text


def _fails(text: str) -> bool:
    """Stand-in bug: any price shock that moves a pool down by 10% or more."""
    scenario = parse_scenario_text(text, "<candidate>")
    return any(e.kind == "price_shock" and e.move is not None and e.move <= Decimal("-0.1")
               for e in scenario.timeline)


def _failing_doc() -> dict:
    config = FuzzConfig(backend="anvil")
    for k in range(200):
        p = fresh(1, k, config)
        if _fails(p.text) and len(p.doc["universe"]["tokens"]) > 2 and len(p.doc["timeline"]) > 8:
            return p.doc
    raise AssertionError("no failing document drawn")


def test_shrinks_to_the_one_event_that_matters_and_keeps_failing() -> None:
    doc = _failing_doc()
    result = shrink(doc, _fails, max_attempts=400)
    timeline = result.doc["timeline"]
    assert [event_kind(e) for e in timeline] == ["price_shock"]
    assert timeline[0]["at"] == "0s"  # moved as early as it goes
    assert timeline[0]["price_shock"]["move"] in ("-10%", "-20%", "-40%", "-30%")
    assert len(result.doc["universe"]["tokens"]) == 2  # the reserve and the shocked token
    assert result.doc["clock"]["until"] == "1d"  # the shortest run the model takes
    assert result.doc["strategy"]["parameters"] == {}
    assert _fails(result.text)
    assert result.steps["drop events"] >= 1 and result.log
    assert result.attempts <= 400


def test_shrinking_is_deterministic_and_bounded() -> None:
    doc = _failing_doc()
    a = shrink(doc, _fails, max_attempts=25)
    b = shrink(doc, _fails, max_attempts=25)
    assert a.text == b.text and a.log == b.log
    assert a.attempts <= 25
