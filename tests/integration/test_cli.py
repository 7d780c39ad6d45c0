"""The `harness` command as a developer uses it: exit codes and what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.anvil_node import AnvilNode
from harness.chains import GENESIS
from harness.cli import main
from runner.state import TradeStatus, open_store

ROOT = Path(__file__).resolve().parents[2]


class TestRun:
    def test_run_prints_fingerprint_journal_and_expectations(self, capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
        """A passing scenario exits 0 and prints its fingerprint, journal rows and each expectation."""
        code = main(["run", "scenarios/crash/crash-at-approve.yaml", "--out", str(tmp_path)])
        out = capsys.readouterr().out
        assert code == 0
        assert out.startswith("fingerprint: scenario=crash-at-approve sha256=")
        assert "crash at approve" in out
        assert out.count("  ok   scenarios/crash/crash-at-approve.yaml:") == 2
        assert (tmp_path / "state.json").exists() and (tmp_path / "snapshot.json").exists()

    def test_failing_expectation_exits_1_with_replay_command(self, capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
        """A failed expectation names file:line and prints the command that replays the run."""
        text = (ROOT / "scenarios/crash/crash-at-approve.yaml").read_text().replace(
            "{at: 1d, accounting: {outcome: ok}}", "{at: 1d, accounting: {outcome: mismatch}}")
        path = tmp_path / "broken.yaml"
        path.write_text(text)
        code = main(["run", str(path), "--quiet", "--seed", "4"])
        out = capsys.readouterr().out
        assert code == 1
        assert f"FAIL {path}:24 expect accounting: expected mismatch" in out
        assert f"replay: harness run {path} --backend eth-tester --seed 4" in out


class TestCheck:
    def test_bad_file_reports_line_key_expected_found(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """`harness check` prints the scenario error without a traceback and exits 1."""
        bad = tmp_path / "bad.yaml"
        bad.write_text((ROOT / "scenarios/crash/crash-at-approve.yaml").read_text().replace("cycle: 1d", "cycle: 1x"))
        code = main(["check", str(bad), "scenarios/crash/crash-at-approve.yaml"])
        captured = capsys.readouterr()
        assert code == 1
        assert captured.err.startswith(f"{bad}:8: clock.cycle: expected a duration like 90s, 15m, 1d12h, found '1x'")
        assert "Traceback" not in captured.err
        assert "crash-at-approve.yaml: ok" in captured.out

    def test_help_is_fast_to_import(self) -> None:
        """`harness --help` does not import the chain or the runner."""
        code = "import sys, harness.cli as c\n" \
               "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n" \
               "print(sorted(m for m in sys.modules if m.startswith(('eth', 'web3', 'runner'))))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.anvil
class TestRepair:
    @pytest.mark.parametrize("step,after", [("confirm", "success"), ("broadcast", "repaired")])
    def test_dry_run_then_apply_then_nothing(self, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             step: str, after: str) -> None:
        """A dead runner's state is repaired against the node: shown first, written with --apply, once."""
        scenario = f"scenarios/crash/crash-at-{step}.yaml"
        with AnvilNode(genesis_timestamp=GENESIS) as node:
            assert main(["run", scenario, "--backend", "anvil", "--rpc", node.url, "--out", str(tmp_path),
                         "--no-restart", "--quiet"]) == 1
            state_path = tmp_path / "state.json"
            unfinished = [t.trade_id for t in open_store(state_path).load().portfolio.all_trades() if t.is_unfinished]
            assert unfinished == [3, 4]
            before = state_path.read_bytes()
            capsys.readouterr()
            assert main(["repair", str(state_path), "--scenario", scenario, "--rpc", node.url]) == 0
            out = capsys.readouterr().out
            assert f"~ trade #3 WETH/USDC: started -> {after}" in out
            assert "dry run: nothing written" in out
            assert state_path.read_bytes() == before
            assert main(["repair", str(state_path), "--scenario", scenario, "--rpc", node.url, "--apply"]) == 0
            state = open_store(state_path).load()
            assert {state.portfolio.get_trade(i).status for i in (3, 4)} == {TradeStatus(after)}
            capsys.readouterr()
            assert main(["repair", str(state_path), "--scenario", scenario, "--rpc", node.url]) == 0
            assert "nothing to repair" in capsys.readouterr().out
