"""anvil as a managed process: it starts, answers, and never outlives its owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import anvil_node
from harness.anvil_node import AnvilNode, find_anvil
from harness.chains import GENESIS
from harness.errors import BackendUnavailable
from runner.chain.rpc import JsonRpcClient

pytestmark = pytest.mark.anvil


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


class TestAnvilNode:
    def test_starts_with_fixed_chain_settings_and_stops(self) -> None:
        """The node answers with the project's chain id and genesis time, then stops for good."""
        with AnvilNode(genesis_timestamp=GENESIS) as node:
            rpc = JsonRpcClient(node.url)
            assert int(rpc.request("eth_chainId"), 16) == 131277322940537
            genesis = rpc.request("eth_getBlockByNumber", ["0x0", False])
            assert int(genesis["timestamp"], 16) == GENESIS
            pid = node.proc.pid
        assert not _alive(pid)

    def test_missing_binary_says_how_to_install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """ANVIL pointing nowhere is a clear error naming the install command."""
        monkeypatch.setenv("ANVIL", "/nonexistent/anvil")
        with pytest.raises(BackendUnavailable, match="ANVIL=/nonexistent/anvil is not an executable file"):
            find_anvil()

    def test_the_projects_node_modules_is_searched_from_the_current_directory(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A project that ran `npm install @foundry-rs/anvil` has its anvil found from a subdirectory."""
        binary = tmp_path / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
        (tmp_path / "tests").mkdir()
        monkeypatch.delenv("ANVIL", raising=False)
        monkeypatch.chdir(tmp_path / "tests")
        assert find_anvil() == str(binary)

    def test_nowhere_names_every_place_looked(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """No ANVIL, no node_modules, nothing on PATH: the message names all three."""
        monkeypatch.delenv("ANVIL", raising=False)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(anvil_node, "SOURCE_ROOT", tmp_path)
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(BackendUnavailable) as info:
            find_anvil()
        message = str(info.value)
        assert "the anvil binary was not found (not in ANVIL, node_modules or PATH)" in message
        assert "set ANVIL=/path/to/anvil, put anvil on PATH, or `npm install --save-dev @foundry-rs/anvil@1.7.1`" in message
        assert "\n" not in message

    def test_no_orphan_after_the_owner_is_terminated(self) -> None:
        """SIGTERM to the harness process stops the anvil it started."""
        code = textwrap.dedent("""
            from harness.anvil_node import AnvilNode
            from harness.chains import GENESIS
            node = AnvilNode(genesis_timestamp=GENESIS)
            print(node.proc.pid, flush=True)
            import sys
            sys.stdin.read()
        """)
        owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        assert owner.stdout is not None
        anvil_pid = int(owner.stdout.readline())
        assert _alive(anvil_pid)
        owner.send_signal(signal.SIGTERM)
        owner.wait(timeout=20)
        assert not _alive(anvil_pid)

    def test_no_orphan_after_normal_exit(self) -> None:
        """An owner that just exits stops its anvil (atexit)."""
        code = textwrap.dedent("""
            from harness.anvil_node import AnvilNode
            from harness.chains import GENESIS
            node = AnvilNode(genesis_timestamp=GENESIS)
            print(node.proc.pid, flush=True)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        assert not _alive(int(out.stdout.strip()))
