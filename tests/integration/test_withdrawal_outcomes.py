"""A redemption's outcome is assertable: `expect: {withdrawal: paid | queued | failed}`.

The issue's symptom: a withdrawal larger than the legacy vault's cash printed a journal
line and the run went on; nothing could assert it. Each bundled scenario below asserts
one outcome; the same file asserting another outcome must fail, so the expectation
reads what the chain did, not what the scenario says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.scenario.loader import parse_scenario_text

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    ("scenarios/withdrawal-exceeds-cash.yaml", "{at: 1d12h, withdrawal: failed}", "failed", "paid"),
    ("scenarios/withdrawal-exceeds-cash.yaml", "{at: 2d12h, withdrawal: {status: paid, by: alice}}", "paid", "failed"),
    ("scenarios/protocols/erc4626-queued-withdrawal.yaml", "{at: 1d6h, withdrawal: {status: queued, by: alice}}",
     "queued", "paid"),
]


@pytest.mark.parametrize("path,entry,status,other", CASES, ids=lambda v: v if isinstance(v, str) and "/" not in v else None)
def test_the_outcome_is_the_chains(path: str, entry: str, status: str, other: str, chain_pool: ChainPool) -> None:
    text = (ROOT / path).read_text()
    assert entry in text
    line = text[: text.index(entry)].count("\n") + 1
    for wanted, passes in ((status, True), (other, False)):
        scenario = parse_scenario_text(text.replace(entry, entry.replace(status, wanted)), path)
        result = ScenarioRun(scenario, backend="revm", pool=chain_pool).run()
        [verdict] = [e for e in result.expectations if e.line == line]
        assert verdict.passed is passes, verdict.message
        assert f"withdrawal by alice {status}" in verdict.message


def test_no_withdrawal_at_the_instant_fails(chain_pool: ChainPool) -> None:
    path = "scenarios/withdrawal-exceeds-cash.yaml"
    text = (ROOT / path).read_text().replace("{at: 1d12h, nav: {min: 19_800}}", "{at: 1d, withdrawal: paid}")
    result = ScenarioRun(parse_scenario_text(text, path), backend="revm", pool=chain_pool).run()
    [verdict] = [e for e in result.expectations if e.kind == "withdrawal" and not e.passed]
    assert verdict.message == "expected a withdrawal paid at this instant, found no withdrawal"
