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
        code = main(["run", str(path), "--quiet", "--seed", "4", "--out", str(tmp_path / "out")])
        out = capsys.readouterr().out
        assert code == 1
        assert f"FAIL {path}:24 expect accounting: expected mismatch" in out
        assert f"replay: harness run {path} --backend revm --seed 4" in out


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty directory; sys.path restored afterwards (run appends the cwd)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


class TestRunOutput:
    def test_default_output_is_runs_scenario_and_says_what_next(self, capsys: pytest.CaptureFixture[str],
                                                               elsewhere: Path) -> None:
        """No --out: runs/<scenario>/ in the current directory, named, then the report and replay commands."""
        code = main(["run", str(ROOT / "scenarios/crash/crash-at-approve.yaml"), "--quiet"])
        out = capsys.readouterr().out
        assert code == 0
        assert "output: runs/crash-at-approve/ (state.json, snapshot.json, run.log)" in out
        assert "next: harness report runs/crash-at-approve/state.json --out runs/crash-at-approve/report" in out
        assert f"replay: harness run {ROOT}/scenarios/crash/crash-at-approve.yaml --backend revm --seed 1" in out
        for name in ("state.json", "snapshot.json", "run.log"):
            assert (elsewhere / "runs" / "crash-at-approve" / name).is_file()
        assert (elsewhere / "runs" / "crash-at-approve" / "snapshot.json").read_bytes() == \
            (ROOT / "snapshots" / "crash-at-approve.json").read_bytes()

    def test_log_level_on_stderr_every_record_in_run_log(self, capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
        """--log-level INFO prints trades and repairs; run.log has the steps too, the same bytes every run."""
        scenario = "scenarios/crash/crash-at-broadcast.yaml"
        assert main(["run", scenario, "--quiet", "--out", str(tmp_path / "a"), "--log-level", "info"]) == 0
        err = capsys.readouterr().err
        assert "INFO    runner.runner: trade #1 buy WETH/USDC success" in err
        assert "WARNING harness.engine: 1d: the runner died at broadcast; restarting it from its state file" in err
        assert "WARNING runner.repair: repair: trade #3 WETH/USDC never reached the chain" in err
        assert "DEBUG" not in err
        log = (tmp_path / "a" / "run.log").read_text()
        assert "DEBUG   runner.runner: step sync_portfolio reached" in log
        assert "DEBUG   harness.engine: instant 1d (2024-01-02T00:00:00+00:00) tick" in log
        assert "INFO    runner.runner: trade #1 buy WETH/USDC success" in log
        assert main(["run", scenario, "--quiet", "--out", str(tmp_path / "b")]) == 0
        assert "INFO" not in capsys.readouterr().err  # the default level is WARNING
        assert (tmp_path / "b" / "run.log").read_bytes() == (tmp_path / "a" / "run.log").read_bytes()

    @pytest.mark.parametrize("scenario,line", [
        ("correction-mode-airdrop", "WARNING runner.accounting: correction booked for WETH"),
        ("correction-mode-airdrop", "WARNING runner.runner: accounting check #"),
        ("slippage-revert", "WARNING harness.engine: 2d fail_next_trade: fail next trade on WETH/USDC"),
        ("slippage-revert", "WARNING runner.runner: trade #3 sell WETH/USDC failed: UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"),
        ("node/node-faults-retried", "WARNING harness.node_faults: injected node fault: get_nonce error"),
    ])
    def test_corrections_and_faults_are_warnings(self, tmp_path: Path, scenario: str, line: str) -> None:
        """A correction, a planted trade fault, a failed trade and an injected node fault: WARNING records."""
        assert main(["run", f"scenarios/{scenario}.yaml", "--quiet", "--out", str(tmp_path)]) == 0
        assert line in (tmp_path / "run.log").read_text()

    def test_unknown_log_level_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            main(["run", "x.yaml", "--log-level", "loud"])
        assert info.value.code == 2
        assert "argument --log-level: expected one of DEBUG, INFO, WARNING, ERROR, found 'loud'" in capsys.readouterr().err


class TestForks:
    def test_a_backend_that_drops_the_fork_is_refused(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--backend anvil on an anvil-fork scenario would run it unforked: refused, saying why."""
        path = "scenarios/fork/fork-finds-positions.yaml"
        assert main(["run", path, "--backend", "anvil"]) == 1
        assert capsys.readouterr().err == (
            f"{path}:10: chain.backend: the scenario forks scenario:{ROOT}/scenarios/fork/mainnet-history.yaml at block 21 "
            "(anvil-fork); --backend anvil would run it without the fork: leave --backend out "
            "(or pass --backend anvil-fork, or revm to fork in process)\n")

    def test_taking_over_a_fork_without_correct_says_what_to_set(self, capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        """A fork scenario with on_mismatch abort: a note names `on_mismatch: correct` before the run."""
        for name in ("fork-finds-positions.yaml", "mainnet-history.yaml"):
            text = (ROOT / "scenarios/fork" / name).read_text()
            (tmp_path / name).write_text(text.replace("on_mismatch: correct", "on_mismatch: abort"))
        monkeypatch.setenv("ANVIL", str(tmp_path / "no-anvil"))  # stops the run right after the note
        path = tmp_path / "fork-finds-positions.yaml"
        assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 1
        captured = capsys.readouterr()
        assert (f"note: {path}: accounting.on_mismatch is abort: a fresh runner on a fork finds what the history "
                "left (deposits, tokens bought) as unexplained balances; `accounting: {on_mismatch: correct}` "
                "books them") in captured.out
        assert f"ANVIL={tmp_path / 'no-anvil'} is not an executable file" in captured.err
        assert "Traceback" not in captured.err


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
