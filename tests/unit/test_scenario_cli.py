"""``harness check`` and ``harness run`` flags that belong to the scenario format."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_check_max_instants(capsys: pytest.CaptureFixture[str]) -> None:
    """--max-instants lowers (or raises) the bound on a run's ticks and trigger checks."""
    path = "scenarios/positive-rebase.yaml"
    assert main(["check", str(ROOT / path)]) == 0
    assert main(["check", "--max-instants", "3", str(ROOT / path)]) == 1
    assert capsys.readouterr().err.endswith(
        "clock.cycle: expected a run of at most 3 instants until clock.until (raise it with "
        "--max-instants), found 1d, which makes 4 instants\n"
    )


def test_check_max_instants_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "--max-instants", "0", "x.yaml"])
    assert info.value.code == 2
    assert "argument --max-instants: expected a positive integer, found '0'" in capsys.readouterr().err


def test_run_refuses_a_backend_that_cannot_carry_the_events(capsys: pytest.CaptureFixture[str]) -> None:
    """The node events of an anvil scenario, run with --backend eth-tester: refused up front."""
    path = ROOT / "scenarios/node/node-restart-keeps-chain.yaml"
    assert main(["run", str(path), "--backend", "eth-tester"]) == 1
    assert capsys.readouterr().err == (
        f"{path}:19: timeline[1].node_restart: expected backend anvil/anvil-fork/revm (set chain: "
        "{backend: anvil} or run with --backend anvil), found backend eth-tester\n"
    )


def test_a_crash_is_one_line_with_its_traceback_kept(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error of the runner (planted here) is a finding: `harness run` names it
    as `harness fuzz` does and keeps the traceback, instead of printing one (seed 1 run 176
    did: a redemption fulfilment meeting a stalled mempool)."""
    from runner.runner import ChainStrategyRunner

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planted: transaction still pending\nsecond line")

    monkeypatch.setattr(ChainStrategyRunner, "tick", broken)
    path = ROOT / "scenarios/positive-rebase.yaml"
    assert main(["run", str(path), "--backend", "revm", "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == (f"{path}: run crashed (crash:RuntimeError): RuntimeError: planted: transaction still pending; "
                   f"traceback in {tmp_path / 'crash.txt'}\n")
    kept = (tmp_path / "crash.txt").read_text()
    assert kept.startswith("Traceback (most recent call last):") and "in broken" in kept and "second line" in kept
