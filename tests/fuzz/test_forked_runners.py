"""Runner processes forked from the pre-imported server (harness/runner_forkserver.py) are
the runner processes `python -m runner.service` starts: same journal, same trades, same
kills and restarts, same verdict. A fork server that leaked anything into its children (a
warmed cache gone stale, the wrong environment) would change a run silently; here it
would change the snapshot document."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.fuzz.campaign import plan
from harness.fuzz.generate import FuzzConfig
from harness.runner_forkserver import ForkServer, child_env
from harness.scenario import parse_scenario_text
from harness.snapshot import render, snapshot_document

pytestmark = pytest.mark.anvil
CONFIG = FuzzConfig(backend="anvil", until=timedelta(days=3))
RUNS = (0, 27)  # seed 2026: a node restart and a crash; two crashes (real SIGKILLs, restarts)


@pytest.mark.parametrize("run", RUNS)
def test_a_forked_runner_process_gives_the_run_an_execd_one_gives(run: int) -> None:
    text = plan(2026, run, CONFIG, ()).text
    assert "crash:" in text
    scenario = parse_scenario_text(text, f"<fork-{run}>")
    fresh, forked = ChainPool(), ChainPool(fork_runners=True)
    try:
        a = ScenarioRun(scenario, backend="anvil", pool=fresh).run()
        b = ScenarioRun(scenario, backend="anvil", pool=forked).run()
        b_again = ScenarioRun(scenario, backend="anvil", pool=forked).run()  # the server's second use
    finally:
        fresh.close()
        forked.close()
    assert a.crashes > 0  # the kills really happened, in both
    assert render(snapshot_document(b)) == render(snapshot_document(a))
    assert render(snapshot_document(b_again)) == render(snapshot_document(a))
    assert [str(v) for v in b.violations] == [str(v) for v in a.violations]
    assert (b.crashes, b.invariant_checks, b.error_kind) == (a.crashes, a.invariant_checks, a.error_kind)


def test_the_server_reports_exits_and_follows_the_environment(tmp_path: Path) -> None:
    server = ForkServer(child_env(), os.getcwd())
    try:
        log = tmp_path / "runner.log"
        child = server.spawn([sys.executable, "-m", "runner.service", str(tmp_path / "missing.json")], log)
        assert child.wait(timeout=60) == 1  # what the interpreter exits with on an uncaught error
        assert "FileNotFoundError" in log.read_text()
        assert server.matches(child_env(), os.getcwd())
        assert not server.matches({**child_env(), "DST_OTHER": "1"}, os.getcwd())
        assert not server.matches(child_env(), str(tmp_path))
        with pytest.raises(ValueError, match="only starts runner.service"):
            server.spawn([sys.executable, "-c", "pass"], log)
    finally:
        server.close()
    assert not server.running


def test_a_pool_starts_a_new_server_when_the_environment_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ChainPool(fork_runners=True)
    try:
        forks = pool.fork_server_for()
        assert forks is not None and ChainPool().fork_server_for() is None
        first = forks(child_env(), os.getcwd())
        assert forks(child_env(), os.getcwd()) is first
        monkeypatch.setenv("DST_FORK_TEST", "1")
        second = forks(child_env(), os.getcwd())
        assert second is not first and not first.running and second.env["DST_FORK_TEST"] == "1"
    finally:
        pool.close()
