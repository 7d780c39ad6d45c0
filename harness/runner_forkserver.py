"""Runner processes forked from one pre-imported Python: a runner process in milliseconds.

`python -m runner.service CONFIG` spends about a second of CPU importing (eth_abi,
pydantic, the runner) before it reads its first command, and a run on anvil starts one
per run and one more per crash: in a fuzz campaign that was most of the CPU. A
`ForkServer` is one `python -m harness.runner_forkserver` process, started fresh by exec
(nothing of the harness's process is in it: a runner patched in the harness is not the
runner its children run, as with `python -m runner.service`), that imports
`runner.service`, freezegun and the bundled strategies once, then forks one child per
request. The child puts the harness's pipes on its stdin and stdout and the log file on
its stderr, and runs `runner.service` as `__main__` (runpy, as `-m` does).

So the child is still a real process of its own, killed for real (its own SIGKILL) and
restarted as a new process: only *when* its modules were imported differs, by the same
code in the same environment. The server is started again whenever the environment or
working directory a child would get changes, so a child never runs on stale settings.

The server is the children's parent: it reaps them (a pidfd per child) and reports each
exit status over its control socket. `ForkedProcess` is the part of `subprocess.Popen`
the process host uses (stdin, stdout, poll, wait, kill, returncode). The server is
forked from anvil_node's spawner thread with PDEATHSIG, so it dies with its owner; its
children get PDEATHSIG from it, and it kills them when its socket closes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from harness.errors import HarnessError

SERVICE = "runner.service"
PRELOAD = (SERVICE, "freezegun", "fixtures", "importlib.readers", "runner.strategies")
"""Imported by the server before any fork: what every runner process imports anyway.
The bundled strategy modules (runner.strategies.*) are added by `_preload`."""
MESSAGE = 65536  # bytes: one control message (a JSON line) at most


class ForkServerError(HarnessError):
    """The fork server died or answered nonsense: one line, with its log's tail."""


# -- the server (its own process) -----------------------------------------------------


def _preload() -> None:
    import importlib
    import pkgutil

    for name in PRELOAD:
        module = importlib.import_module(name)
        if name == "runner.strategies":
            for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{name}.{info.name}")


def _warm() -> None:
    """What every runner process does first, done once before any fork: freezegun's first
    start reads every attribute of every loaded module (importing what modules load
    lazily, filling its per-module cache), the keccak backend is chosen (a ctypes library
    search that runs a subprocess), http.client's host encoding is imported, and the
    contract artifacts are parsed (`artifact` is a cache of the files as they are now: a
    campaign does not rebuild its contracts while it runs). A fresh process pays for each
    again; a forked one starts with them done."""
    import encodings.idna  # noqa: F401 - http.client encodes the host with it

    from eth_hash.auto import keccak
    from freezegun import freeze_time

    from runner.chain.abi import ArtifactError, artifact, artifacts_dir

    keccak(b"")
    with freeze_time("2020-01-01"):
        pass
    root = Path(str(artifacts_dir()))
    for path in sorted(root.rglob("*.json")):
        with contextlib.suppress(ArtifactError, KeyError, ValueError):
            artifact(path.relative_to(root).with_suffix("").as_posix())


def _die_with_parent() -> None:
    """PDEATHSIG = SIGKILL: this process dies when the one that forked it does."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG


def _child(fds: Sequence[int], argv: list[str], keep_closed: Sequence[int]) -> None:
    """In the forked child: become `python -m runner.service ARGS` on the given fds."""
    code = 1
    try:
        _die_with_parent()
        for fd in keep_closed:
            os.close(fd)
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        import runpy

        sys.argv = ["-m", *argv]  # runpy puts the module's path in argv[0], as -m does
        try:
            runpy.run_module(SERVICE, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except BaseException:  # noqa: BLE001 - what the interpreter would print, then exit 1
            import traceback

            traceback.print_exc()
            code = 1
        import atexit

        atexit._run_exitfuncs()  # what the interpreter does on its way out (logging's flush)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _exit_code(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    with contextlib.suppress(Exception):
        print(value, file=sys.stderr)
    return 1


def serve(fd: int) -> None:
    """The server's loop: fork on request, report exits, stop when the owner goes."""
    _die_with_parent()
    sock = socket.socket(fileno=fd)
    _preload()
    _warm()
    gc.collect()
    gc.freeze()  # what was imported stays out of the children's collections (and their pages shared)
    sock.send(b'{"ready": true}')
    children: dict[int, tuple[int, int]] = {}  # pidfd -> (request id, pid)
    while True:
        readable, _, _ = select.select([sock.fileno(), *children], [], [])
        for r in readable:
            if r == sock.fileno():
                data, fds, _flags, _addr = socket.recv_fds(sock, MESSAGE, 3)
                if not data:  # the owner closed the socket (or died): so do its runners
                    for _ident, pid in children.values():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    return
                request = json.loads(data)
                pid = os.fork()
                if pid == 0:
                    _child(fds, list(request["argv"]), [sock.fileno(), *children])
                for received in fds:
                    os.close(received)  # a later child must not hold this one's pipes
                children[os.pidfd_open(pid)] = (request["id"], pid)
                sock.send(json.dumps({"id": request["id"], "pid": pid}).encode())
            else:
                ident, pid = children.pop(r)
                os.close(r)
                _, status = os.waitpid(pid, 0)
                sock.send(json.dumps({"id": ident, "exit": os.waitstatus_to_exitcode(status)}).encode())


# -- the harness's side ---------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment a runner process gets (string hashing pinned, as for a fresh exec)."""
    return {**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}


class ForkedProcess:
    """A runner process forked by the server: the Popen subset ProcessHost uses."""

    def __init__(self, server: ForkServer, ident: int, pid: int, args: list[str], stdin: IO[bytes],
                 stdout: IO[bytes]) -> None:
        self.server = server
        self.ident = ident
        self.pid = pid
        self.args = args
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.exit_code(self.ident, block=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:  # float-ok: seconds
        if self.returncode is None:
            code = self.server.exit_code(self.ident, block=True, timeout=timeout)
            if code is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self.returncode = code
        self._close_pipes()
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def _close_pipes(self) -> None:
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


class ForkServer:
    """One server process and its control socket; `spawn` is Popen for runner processes."""

    def __init__(self, env: Mapping[str, str] | None = None, cwd: str | None = None,
                 startup_timeout: float = 120.0) -> None:  # float-ok: seconds
        from harness.anvil_node import _spawner

        self.env = dict(env if env is not None else child_env())
        self.cwd = cwd or os.getcwd()
        self._lock = threading.Lock()
        self._exits: dict[int, int] = {}
        self._next = 0
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        log_fd, log_name = _temp_log()
        self.log_path = Path(log_name)
        try:
            self.proc = _spawner.popen(
                [sys.executable, "-m", "harness.runner_forkserver", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_fd,
                env=self.env, cwd=self.cwd)
        finally:
            theirs.close()
            os.close(log_fd)
        ready, _, _ = select.select([ours], [], [], startup_timeout)
        if not ready or json.loads(ours.recv(MESSAGE) or b"{}").get("ready") is not True:
            self.close()
            raise ForkServerError(f"the runner fork server did not start: {self.log_tail()}")

    def matches(self, env: Mapping[str, str], cwd: str) -> bool:
        """Whether a child forked here gets exactly this environment and directory."""
        return self.running and dict(env) == self.env and cwd == self.cwd

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, args: list[str], log_path: Path) -> ForkedProcess:
        """`python -m runner.service ARGS` with piped stdin and stdout, stderr appended to
        `log_path`: args[:3] must be [python, "-m", "runner.service"]."""
        if args[1:3] != ["-m", SERVICE]:
            raise ValueError(f"the fork server only starts {SERVICE}, not {args!r}")
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with self._lock:
                ident = self._next
                self._next += 1
                request = json.dumps({"id": ident, "argv": args[3:]}).encode()
                try:
                    socket.send_fds(self._sock, [request], [child_in, child_out, log])
                except OSError as exc:
                    raise ForkServerError(f"the runner fork server is gone ({exc}): {self.log_tail()}") from None
                pid = self._until(lambda m: m.get("id") == ident and "pid" in m, None)["pid"]
        except BaseException:
            os.close(to_child)
            os.close(from_child)
            raise
        finally:
            for fd in (child_in, child_out, log):
                os.close(fd)  # the child's ends: ours closed, so its death is our EOF
        return ForkedProcess(self, ident, pid, args, os.fdopen(to_child, "wb"), os.fdopen(from_child, "rb"))

    def exit_code(self, ident: int, *, block: bool, timeout: float | None = None) -> int | None:  # float-ok: seconds
        with self._lock:
            if ident not in self._exits:
                self._until(lambda m: m.get("id") == ident and "exit" in m, timeout if block else 0.0)
            return self._exits.pop(ident, None)

    def _until(self, wanted: Any, timeout: float | None) -> dict[str, Any]:  # float-ok: seconds
        """Read control messages (recording exits) until `wanted` matches one; {} when
        `timeout` passes first. Called with the lock held."""
        while True:
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                return {}
            data = self._sock.recv(MESSAGE)
            if not data:
                raise ForkServerError(f"the runner fork server died: {self.log_tail()}")
            message: dict[str, Any] = json.loads(data)
            if "exit" in message:
                self._exits[int(message["id"])] = int(message["exit"])
            if wanted(message):
                return message

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:].strip() or "(no output)"
        except OSError:
            return "(no log)"

    def close(self) -> None:
        """Stop the server; it kills any runner process still alive."""
        with contextlib.suppress(OSError):
            self._sock.close()
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            self.log_path.unlink()


def _temp_log() -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix="dst-forkserver-", suffix=".log")


if __name__ == "__main__":
    serve(int(sys.argv[1]))


__all__ = ["ForkServer", "ForkServerError", "ForkedProcess", "child_env", "serve"]
