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


def _on_protocols_doc() -> dict:
    from harness.fuzz.generate import weights_from

    config = FuzzConfig(backend="revm", weights=weights_from({"vault": {"erc4626": 1}, "rebasing": 0,
                                                                "transfer_fee": 0}))
    for k in range(200):
        p = fresh(4, k, config)
        dexes = [pool.get("dex") for pool in p.doc["universe"]["pools"]]
        if "uniswap-v3" in dexes and "uniswap-v2" in dexes and _fails(p.text):
            return p.doc
    raise AssertionError("no document with both exchanges drawn")


def test_the_real_protocols_are_shrunk_away_when_the_failure_does_not_need_them() -> None:
    doc = _on_protocols_doc()
    result = shrink(doc, _fails, max_attempts=400)
    assert "vault" not in result.doc and "dex:" not in result.text
    assert "vault -> legacy" in result.log


def test_a_failure_that_needs_uniswap_v3_keeps_its_v3_pool_and_only_that() -> None:
    def needs_v3(text: str) -> bool:
        scenario = parse_scenario_text(text, "<candidate>")
        return _fails(text) and any(str(p.dex) == "uniswap-v3" for p in scenario.universe.pools)

    doc = _on_protocols_doc()
    result = shrink(doc, needs_v3, max_attempts=400)
    assert result.doc["vault"] == {"kind": "erc4626"}
    dexes = [p.get("dex", "fixture") for p in result.doc["universe"]["pools"]]
    assert dexes.count("uniswap-v3") == 1 and "uniswap-v2" not in dexes  # the rest back on the fixture AMM
    assert needs_v3(result.text)
    assert not any(line == "vault -> legacy" for line in result.log)
