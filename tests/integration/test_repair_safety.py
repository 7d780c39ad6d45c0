"""`harness repair --apply` killed at any file operation leaves the state as it was or as
repaired (the issue: 6 of 12 kill points left a state the loader could not read); a
repair holds the state's lock; a scenario of another universe is refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.anvil_node import AnvilNode
from harness.chains import GENESIS
from harness.cli import main
from runner.state import StateLock, encode_state, open_store
from tests.forkserver import ForkServer
from tests.statefiles import fast_dir

pytestmark = pytest.mark.anvil

SCENARIO = "scenarios/crash/crash-at-broadcast.yaml"


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, bytes, bytes]]:
    """A node, a state left by a runner that died with unfinished trades, and the state
    before and after `repair --apply`."""
    root = tmp_path_factory.mktemp("crashed")
    with AnvilNode(genesis_timestamp=GENESIS) as node:
        assert main(["run", SCENARIO, "--backend", "anvil", "--rpc", node.url, "--out", str(root / "pristine"),
                     "--no-restart", "--quiet"]) == 1
        before = encode_state(open_store(root / "pristine" / "state.json").load())
        shutil.copytree(root / "pristine", root / "repaired")
        assert main(["repair", str(root / "repaired" / "state.json"), "--scenario", SCENARIO, "--rpc", node.url,
                     "--apply"]) == 0
        after = encode_state(open_store(root / "repaired" / "state.json").load())
        assert after != before
        yield node.url, root / "pristine", before, after


def test_repair_killed_at_every_write_and_rename_leaves_before_or_after(
        crashed: tuple[str, Path, bytes, bytes], tmp_path: Path) -> None:
    """SIGKILL before each write, fsync and rename of `repair --apply`, and in the middle of
    each write: the state loads, as before or as after; repairing again gives the after."""
    url, pristine, before, after = crashed
    work = fast_dir(tmp_path / "work")
    seen = {"before": 0, "after": 0}
    with ForkServer(["harness.cli", "harness.repair_cli", "tests.statefiles", "tests.conftest"]) as server:
        assert server.setup("tests.statefiles:cache_derived_universes").result is True
        shutil.copytree(pristine, work / "probe")
        ops = server.call("tests.statefiles:repair_ops", str(work / "probe" / "state.json"), SCENARIO, url).result
        assert [op for op, _ in ops].count("rename") == 1 and ops[-2][0] == "rename", ops
        cases = [(n, False) for n in range(1, len(ops) + 1)]
        cases += [(n, True) for n, (op, _) in enumerate(ops, 1) if op == "write"]
        for n, torn in cases:
            case = work / f"{n}-{torn}"
            shutil.copytree(pristine, case)
            state = str(case / "state.json")
            outcome = server.call("tests.statefiles:repair_apply", state, SCENARIO, url, n, torn)
            assert outcome.killed, (n, torn, outcome)
            loaded = encode_state(open_store(state).load())
            assert loaded in (before, after), f"killed at {ops[n - 1]} (torn={torn}): a third state"
            seen["before" if loaded == before else "after"] += 1
            if loaded == before:  # what the dead repair appended is cut by the next one
                assert server.call("tests.statefiles:repair_apply", state, SCENARIO, url, 0, False).result == 0
                assert encode_state(open_store(state).load()) == after
    shutil.rmtree(work, ignore_errors=True)
    assert seen["before"] == len(cases) - 1 and seen["after"] == 1, seen  # the rename is the commit


def test_repair_refuses_a_state_another_process_holds(crashed: tuple[str, Path, bytes, bytes], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import os

    url, pristine, before, _ = crashed
    shutil.copytree(pristine, tmp_path / "s")
    state = tmp_path / "s" / "state.json"
    with StateLock(state):
        code = main(["repair", str(state), "--scenario", SCENARIO, "--rpc", url, "--apply"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and f"PID {os.getpid()}" in err
    assert encode_state(open_store(state).load()) == before


def test_repair_refuses_a_scenario_of_another_universe(crashed: tuple[str, Path, bytes, bytes], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The state records its universe when the run starts; another one is named and refused."""
    url, pristine, before, _ = crashed
    shutil.copytree(pristine, tmp_path / "s")
    state = tmp_path / "s" / "state.json"
    other = "scenarios/rebase-while-holding.yaml"  # USDC, WETH, stETH instead of USDC, WETH, WBTC
    code = main(["repair", str(state), "--scenario", other, "--rpc", url, "--apply"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert "another universe" in err and "WBTC" in err and "stETH" in err
    assert encode_state(open_store(state).load()) == before
    # a different scenario of the same universe is accepted (dry run)
    assert main(["repair", str(state), "--scenario", "scenarios/dust-position.yaml", "--rpc", url]) == 0
    assert "dry run: nothing written" in capsys.readouterr().out
