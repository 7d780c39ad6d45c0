"""anvil as a managed process: found, started on a free loopback port, always stopped.

Readiness is read from anvil's own "Listening on" line (a blocking read with a
deadline, never a sleep). Output goes to a log file that a failing test prints.

No anvil outlives its owner, however the owner dies. Each node is started with
`PR_SET_PDEATHSIG` = SIGKILL (prctl, in the child between fork and exec), so the kernel
kills it when its owner dies by any signal: SIGKILL, SIGHUP, a crashed pytest-xdist
worker. The death signal follows the *thread* that forked the child, not the process, so
every node is forked from one daemon thread that lives as long as the process (`_Spawner`),
never from the caller's thread, which may end first. A clean exit and SIGTERM still stop
nodes gracefully first (atexit, a SIGTERM handler). Nodes run in their own session, so a
terminal's Ctrl-C reaches the harness, which then stops them.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

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


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _load_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not Linux: no death signal, atexit and SIGTERM only
        return None


_PRCTL = _load_prctl()  # looked up here: the child between fork and exec only calls it


def _die_with(owner_pid: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGKILL when the thread that forked it dies."""
    prctl, sigkill = _PRCTL, int(signal.SIGKILL)

    def preexec() -> None:
        if prctl is not None and prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != owner_pid:
            os._exit(0)  # the owner died before the death signal was armed: nobody to serve

    return preexec


class _Spawner:
    """Forks child processes from one daemon thread that ends only with the process.

    A node forked from a caller's thread would be killed by its death signal as soon as
    that thread ends (a thread pool worker, a test's helper thread). After a fork of this
    process the thread is not in the child: the child starts its own on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._requests: Any = None

    def popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        import queue

        with self._lock:
            if self._pid != os.getpid():
                self._requests = queue.SimpleQueue()
                threading.Thread(target=self._serve, args=(self._requests,), name="anvil-spawner",
                                 daemon=True).start()
                self._pid = os.getpid()
            requests = self._requests
        reply: Future[subprocess.Popen[bytes]] = Future()
        requests.put((args, kwargs, reply))
        return reply.result()

    @staticmethod
    def _serve(requests: Any) -> None:
        while True:
            args, kwargs, reply = requests.get()
            try:
                reply.set_result(subprocess.Popen(args, preexec_fn=_die_with(os.getpid()), **kwargs))  # noqa: PLW1509
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                reply.set_exception(exc)


_spawner = _Spawner()


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
        self.proc = _spawner.popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
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
