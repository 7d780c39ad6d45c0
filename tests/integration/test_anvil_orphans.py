"""No anvil outlives its owner, however the owner dies: SIGKILL or SIGHUP of `harness run`,
of `pytest -n0`, of a pytest-xdist worker (the issue: 13 of 13 were orphaned, still
serving). Waits poll the process table against a deadline; nothing sleeps to synchronise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # float-ok: seconds; generous for a loaded CI machine, never waited when all is well


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren
    head, _, rest = text.rpartition(")")
    return [head.split("(", 1)[1], *rest.split()]


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z"  # a zombie is dead for our purposes


def _children_named(ppid: int, name: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[0] == name and st[2] == str(ppid) and st[1] != "Z":
                out.append(int(entry))
    return out


def _wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> object:  # float-ok
    """Poll `condition` until it is truthy or the deadline passes (then fail naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)  # a poll interval, not a synchronisation: the loop checks the condition


def _assert_dies(anvil_pid: int, owner: str) -> None:
    _wait_for(lambda: not _alive(anvil_pid), f"anvil {anvil_pid} to die with its owner ({owner})", timeout=20)


def _long_scenario(tmp_path: Path) -> Path:
    """A scenario long enough to be killed mid-run on anvil (the run is killed at once)."""
    text = (ROOT / "scenarios" / "many-cycles-rebalancing.yaml").read_text()
    path = tmp_path / "long.yaml"
    path.write_text(text.replace("until: 60d", "until: 720d"))
    return path


# A subreaper between the test and `harness run`: an orphaned anvil is re-parented to it
# (not to init), so its death is reaped and its cause is known. Killed by the death signal,
# anvil dies of SIGKILL at once; without one it lives on, or dies later of a broken pipe
# when it next logs a request (so "it is gone" alone would not prove the death signal).
REAPER = textwrap.dedent("""
    import ctypes, json, os, subprocess, sys
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    run = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(run.pid, flush=True)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        print(json.dumps({"pid": pid, "signal": signum, "exit": os.waitstatus_to_exitcode(status)}), flush=True)
""")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP], ids=["SIGKILL", "SIGHUP"])
def test_harness_run_killed_takes_its_anvil_along(tmp_path: Path, sig: signal.Signals) -> None:
    import json

    reaper = subprocess.Popen([sys.executable, "-c", REAPER, sys.executable, "-m", "harness.cli", "run",
                               str(_long_scenario(tmp_path)), "--backend", "anvil", "--quiet"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert reaper.stdout is not None
    try:
        run = int(reaper.stdout.readline())
        found = _wait_for(lambda: _children_named(run, "anvil") or not _alive(run), "harness run to start anvil")
        assert _alive(run), "harness run ended before it could be killed"
        assert isinstance(found, list)
        anvil = found[0]
        os.kill(run, sig)
        deaths = {}
        while anvil not in deaths:  # bounded: the reaper exits when its last child is reaped
            line = reaper.stdout.readline()
            if not line:
                break
            death = json.loads(line)
            deaths[death["pid"]] = death
        assert anvil in deaths, f"anvil {anvil} outlived harness run ({sig.name})"
        assert deaths[anvil]["signal"] == signal.SIGKILL, f"anvil died of {deaths[anvil]}, not the death signal"
    finally:
        reaper.kill()
        reaper.wait(timeout=DEADLINE)
        for pid in _children_named(reaper.pid, "anvil"):
            os.kill(pid, signal.SIGKILL)


HOLDER_TEST = textwrap.dedent("""
    import os
    import threading
    from pathlib import Path

    def test_hold_a_node():
        from harness.anvil_node import AnvilNode
        node = AnvilNode(genesis_timestamp=None)
        Path(os.environ["ANVIL_PIDS"]).write_text(f"{os.getpid()} {node.proc.pid}")
        threading.Event().wait(120)  # until killed; bounded so nothing hangs for ever
""")


@pytest.mark.parametrize("workers", ["0", "1"], ids=["pytest -n0", "xdist worker"])
def test_pytest_killed_takes_its_anvil_along(tmp_path: Path, workers: str) -> None:
    """SIGKILL of the process that runs the test: pytest itself (-n0) or its xdist worker."""
    (tmp_path / "test_hold.py").write_text(HOLDER_TEST)
    pids = tmp_path / "pids"
    env = {**os.environ, "ANVIL_PIDS": str(pids), "PYTHONPATH": str(ROOT)}
    session = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                                "-n", workers, str(tmp_path / "test_hold.py")], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    anvil = None
    try:
        _wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2, "the test to start anvil")
        owner, anvil = (int(x) for x in pids.read_text().split())
        assert _alive(anvil)
        assert (owner == session.pid) == (workers == "0")
        os.kill(owner, signal.SIGKILL)
        _assert_dies(anvil, "pytest" if workers == "0" else "an xdist worker")
    finally:
        session.kill()
        session.wait(timeout=DEADLINE)
        if anvil is not None and _alive(anvil):  # an orphan of a failed test: ours to end
            os.kill(anvil, signal.SIGKILL)


def test_a_node_started_from_a_short_lived_thread_survives_it() -> None:
    """The death signal follows the thread that forked: nodes are forked from a thread
    that lives as long as the process, so one started from a helper thread outlives it."""
    import threading

    from harness.anvil_node import AnvilNode

    nodes: list[AnvilNode] = []
    t = threading.Thread(target=lambda: nodes.append(AnvilNode(genesis_timestamp=None)))
    t.start()
    t.join(timeout=DEADLINE)
    assert nodes, "the node did not start"
    node = nodes[0]
    tid = t.native_id
    _wait_for(lambda: not os.path.exists(f"/proc/self/task/{tid}"), "the helper thread to be gone from the OS")
    try:
        from runner.chain.rpc import JsonRpcClient

        assert int(JsonRpcClient(node.url).request("eth_chainId"), 16) > 0  # still serving
        assert node.running
    finally:
        node.stop()
