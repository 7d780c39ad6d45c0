"""anvil as a managed process: found, started on a free loopback port, always stopped.

Readiness is read from anvil's own "Listening on" line (a blocking read with a
deadline, never a sleep). Output goes to a log file that a failing test prints. Every
started node is registered for stopping at interpreter exit and on SIGTERM, so no
orphan anvil outlives the harness.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from harness.errors import BackendUnavailable

SOURCE_ROOT = Path(__file__).resolve().parents[1]  # a checkout (or an editable install's source)
ANVIL_PACKAGE = "@foundry-rs/anvil@1.7.1"
INSTALL_HINT = (f"set ANVIL=/path/to/anvil, put anvil on PATH, or `npm install --save-dev {ANVIL_PACKAGE}` "
                "in your project (node_modules is searched from the current directory up; "
                "in a checkout of dst-harness, `npm ci`)")
CHAIN_ID = 131277322940537  # the embedded chain's id, so transaction hashes match
_LISTENING = re.compile(rb"Listening on ([0-9.]+):(\d+)")
_live: set[AnvilNode] = set()
_lock = threading.Lock()


def _node_modules_roots() -> list[Path]:
    """Where a project's node_modules may be: the current directory and each parent, then
    this package's source checkout (a clone of dst-harness, or an editable install)."""
    here = Path.cwd()
    roots = [here, *here.parents, SOURCE_ROOT]
    return list(dict.fromkeys(roots))


def _from_node_modules(root: Path) -> str | None:
    # npm puts the binary in a per-platform package (anvil-linux-amd64, anvil-darwin-arm64,
    # ...); node_modules/.bin/anvil is a node shim around it, the binary itself is preferred.
    for candidate in sorted((root / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_anvil() -> str:
    """The anvil binary: $ANVIL, then the project's node_modules, then PATH."""
    env = os.environ.get("ANVIL")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise BackendUnavailable("anvil", f"ANVIL={env} is not an executable file", hint=INSTALL_HINT)
    for root in _node_modules_roots():
        found = _from_node_modules(root)
        if found:
            return found
    found = shutil.which("anvil")
    if found:
        return found
    raise BackendUnavailable("anvil", "the anvil binary was not found (not in ANVIL, node_modules or PATH)",
                             hint=INSTALL_HINT)


class AnvilNode:
    """One anvil process."""

    def __init__(self, *, genesis_timestamp: int | None, extra_args: list[str] | None = None,
                 log_dir: str | None = None, startup_timeout: float = 30.0) -> None:  # float-ok: seconds
        self.binary = find_anvil()
        self.log_path = Path(tempfile.mkstemp(prefix="anvil-", suffix=".log", dir=log_dir)[1])
        # cancun, not anvil's default prague: the fixtures are compiled for cancun, and on
        # anvil 1.7.1 evm_mine under prague slows down with chain length (3x at 1,000 blocks).
        args = [
            self.binary, "--port", "0", "--host", "127.0.0.1",
            "--chain-id", str(CHAIN_ID), "--accounts", "0", "--balance", "0",
            *(["--timestamp", str(genesis_timestamp)] if genesis_timestamp is not None else []),
            "--hardfork", "cancun",
            "--gas-limit", "30000000", "--base-fee", "1000000000", "--gas-price", "10000000000",
            "--order", "fifo", "--no-mining", "--mnemonic",
            "test test test test test test test test test test test junk",
            *(extra_args or []),
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        with _lock:
            _live.add(self)
        try:
            self.host, self.port = self._wait_listening(startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://{self.host}:{self.port}"
        self._pump = threading.Thread(target=self._copy_output, daemon=True)
        self._pump.start()

    def _wait_listening(self, timeout: float) -> tuple[str, int]:  # float-ok: seconds
        assert self.proc.stdout is not None
        result: list[tuple[str, int]] = []

        def reader() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self._log.write(line)
                m = _LISTENING.search(line)
                if m:
                    result.append((m.group(1).decode(), int(m.group(2))))
                    return

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(timeout)
        if not result:
            self._log.flush()
            tail = self.log_path.read_text(errors="replace")[-2000:].strip()
            exited = self.proc.poll()
            why = f"exited with code {exited}" if exited is not None else f"did not listen within {timeout}s"
            raise BackendUnavailable("anvil", f"{why}; its output:\n{tail}")
        return result[0]

    def _copy_output(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                self._log.write(line)
            self._log.flush()
        except ValueError:  # the log was closed by stop(): the node is gone, nothing to copy
            pass

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(ValueError):
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with _lock:
            _live.discard(self)
        with contextlib.suppress(Exception):
            self._log.close()

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all() -> None:
    with _lock:
        nodes = list(_live)
    for node in nodes:
        node.stop()


atexit.register(stop_all)


def _on_term(signum: int, frame: object) -> None:
    stop_all()
    raise SystemExit(128 + signum)


if threading.current_thread() is threading.main_thread():
    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_term)
    except ValueError:
        pass
