"""The pytest plugin as CI sees it: items per backend, clean collection errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


class TestCollection:
    def test_each_scenario_is_an_item_per_backend(self) -> None:
        """Collecting a scenario file yields one item per backend, named after the scenario."""
        out = _pytest("--collect-only", "-q", "scenarios/crash/crash-at-approve.yaml", cwd=ROOT).stdout
        assert "scenarios/crash/crash-at-approve.yaml::crash-at-approve[eth-tester]" in out
        assert "scenarios/crash/crash-at-approve.yaml::crash-at-approve[anvil]" in out
        assert "scenarios/crash/crash-at-approve.yaml::crash-at-approve[revm]" in out

    def test_backend_option_selects_one_backend(self) -> None:
        """--backend revm collects the revm item only; node-only scenarios are left out."""
        out = _pytest("--collect-only", "-q", "--backend", "revm", "scenarios/crash/crash-at-approve.yaml",
                      "scenarios/node/stuck-broadcast-then-resume.yaml", cwd=ROOT).stdout
        assert "crash-at-approve[revm]" in out
        assert "[eth-tester]" not in out and "[anvil]" not in out and "stuck-broadcast" not in out

    def test_node_only_scenarios_skip_the_embedded_backend(self) -> None:
        """A scenario declaring backend anvil is collected for anvil only."""
        out = _pytest("--collect-only", "-q", "scenarios/node/stuck-broadcast-then-resume.yaml", cwd=ROOT).stdout
        assert "stuck-broadcast-then-resume[anvil]" in out and "[eth-tester]" not in out and "[revm]" not in out

    def test_bad_scenario_fails_collection_with_location_not_traceback(self, tmp_path: Path) -> None:
        """A malformed scenario shows file:line, key, expected and found; no Python traceback."""
        (tmp_path / "scenarios").mkdir()
        text = (ROOT / "scenarios/crash/crash-at-approve.yaml").read_text().replace("amount: 10_000", "amount: -5")
        (tmp_path / "scenarios" / "bad.yaml").write_text(text)
        (tmp_path / "conftest.py").write_text("")
        result = _pytest("scenarios", "--rootdir", str(tmp_path), cwd=tmp_path)
        assert result.returncode != 0
        assert "scenarios/bad.yaml:18: timeline[0].deposit.amount: expected a positive amount, found -5" in result.stdout
        assert "Traceback" not in result.stdout
