"""Same scenario and seed: byte-identical output across processes, hash seeds and backends.

The scenario items already compare an in-process run with the committed snapshot. Here a
fresh interpreter with another PYTHONHASHSEED runs every bundled scenario again and must
produce the same bytes: nothing may depend on set or dict iteration order, object ids,
the wall clock or unseeded randomness.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from pathlib import Path
from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.scenario import load_scenario
from harness.snapshot import render, snapshot_document
out = Path(sys.argv[1])
pool = ChainPool()
for path in sorted(Path("scenarios").rglob("*.yaml")):
    scenario = load_scenario(path)
    result = ScenarioRun(scenario, backend=scenario.chain.backend, pool=pool).run()
    (out / f"{scenario.name}.json").write_bytes(render(snapshot_document(result)))
pool.close()
"""


@pytest.mark.slow
class TestDeterminism:
    def test_fresh_process_with_another_hash_seed_reproduces_every_snapshot(self, tmp_path: Path) -> None:
        """Every bundled scenario, re-run in a new interpreter with PYTHONHASHSEED=12345, matches its snapshot."""
        env = {**os.environ, "PYTHONHASHSEED": "12345"}
        subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], cwd=ROOT, env=env, check=True, timeout=1800)
        produced = sorted(p.name for p in tmp_path.glob("*.json"))
        assert produced, "the child process produced nothing"
        differing = [name for name in produced if (tmp_path / name).read_bytes() != (ROOT / "snapshots" / name).read_bytes()]
        assert differing == []
        assert produced == sorted(p.name for p in (ROOT / "snapshots").glob("*.json"))
