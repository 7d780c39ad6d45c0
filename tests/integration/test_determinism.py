"""Same scenario and seed: byte-identical output, across processes, hash seeds and backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engine import ScenarioRun
from harness.scenario import load_scenario
from harness.snapshot import render, snapshot_document

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").rglob("*.yaml"))

CHILD = """
import sys
from harness.engine import ScenarioRun
from harness.scenario import load_scenario
from harness.snapshot import render, snapshot_document
scenario = load_scenario(sys.argv[1])
result = ScenarioRun(scenario, backend=scenario.chain.backend).run()
sys.stdout.buffer.write(render(snapshot_document(result)))
"""


@pytest.mark.slow
class TestDeterminism:
    @pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
    def test_fresh_process_with_another_hash_seed_gives_identical_bytes(self, path: Path, chain_pool: object) -> None:
        """A second run in a new interpreter with a different PYTHONHASHSEED matches byte for byte."""
        rel = path.relative_to(ROOT)
        scenario = load_scenario(rel)
        run = ScenarioRun(scenario, backend=scenario.chain.backend, pool=chain_pool)  # type: ignore[arg-type]
        here = render(snapshot_document(run.run()))
        env = {**os.environ, "PYTHONHASHSEED": "12345"}
        other = subprocess.run([sys.executable, "-c", CHILD, str(rel)], cwd=ROOT, env=env,
                               capture_output=True, check=True, timeout=600).stdout
        assert other == here
