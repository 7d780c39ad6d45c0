"""Node faults are the runner's: the harness's own requests never use them up.

Fuzz found it: armed before a deposit in the same instant, the three faults of
`node-faults-retried` were spent on the deposit's `send_raw_transaction` (the harness
shares the runner's chain client in process), so the runner never saw them and the
scenario tested nothing. The order of events within an instant must not change whom a
fault hits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.scenario.loader import parse_scenario_text

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = (ROOT / "scenarios" / "node" / "node-faults-retried.yaml").read_text()
DEPOSIT = "  - {at: 0s, deposit: {amount: 10_000, by: alice}}\n"
FAULT = "  - {at: 0s, node_fault: {mode: error, calls: 3}}\n"


@pytest.mark.parametrize("backend", ["eth-tester", "revm"])
def test_a_fault_armed_before_a_deposit_hits_the_runner(backend: str, chain_pool: ChainPool) -> None:
    assert DEPOSIT + FAULT in BUNDLED
    reordered = BUNDLED.replace(DEPOSIT + FAULT, FAULT + DEPOSIT)
    runs = [ScenarioRun(parse_scenario_text(text, "x.yaml"), backend=backend, pool=chain_pool).run()
            for text in (BUNDLED, reordered)]
    first_three = [[r.split(":")[0] for r in run.retries[:3]] for run in runs]
    # the runner's first request of the tick is its nonce read; a deposit is a broadcast
    assert first_three == [["get_nonce"] * 3, ["get_nonce"] * 3]
    assert runs[0].retries == runs[1].retries
