"""A fork server for kill tests: one fresh interpreter imports the code once, then runs
each case in a forked child that may SIGKILL itself (runner.state.files.fault_hook).

Forking the pytest process itself is not safe (it has threads); a fresh, single-threaded
interpreter is. Each case costs a fork, not an interpreter start and its imports.

    with ForkServer(["harness.cli"]) as server:
        outcome = server.call("tests.statefiles:some_function", arg1, arg2)
        outcome.killed, outcome.exit_code, outcome.result
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Outcome:
    killed: bool  # the child died by SIGKILL
    exit_code: int | None  # its exit code when it exited
    result: Any  # what the function returned (JSON), when it returned
    error: str | None = None  # the exception it raised, when it raised


class ForkServer:
    def __init__(self, preload: list[str], timeout: float = 120.0) -> None:  # float-ok: seconds
        self.preload = preload
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ForkServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver", *self.preload], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        assert self._read() == {"ready": True}
        return self

    def _read(self) -> Any:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fork server died (exit {self.proc.poll()})")
        return json.loads(line)

    def call(self, target: str, *args: Any) -> Outcome:
        """Run target(*args) in a forked child of the server."""
        return self._request(target, args, inline=False)

    def setup(self, target: str, *args: Any) -> Outcome:
        """Run target(*args) in the server itself, for every later child to inherit (a cache)."""
        return self._request(target, args, inline=True)

    def _request(self, target: str, args: tuple[Any, ...], inline: bool) -> Outcome:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"target": target, "args": list(args), "inline": inline}) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        return Outcome(reply["killed"], reply["exit"], reply.get("result"), reply.get("error"))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def _resolve(target: str) -> Any:
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def serve(preload: list[str]) -> None:
    import importlib

    for name in preload:
        importlib.import_module(name)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        fn = _resolve(request["target"])
        if request.get("inline"):
            try:
                done: dict[str, Any] = {"result": fn(*request["args"])}
            except Exception as exc:  # noqa: BLE001 - reported to the test
                done = {"error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps({"killed": False, "exit": None, **done}, default=str) + "\n")
            out.flush()
            continue
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run, report, exit (or die on the way)
            os.close(r)
            try:
                reply: dict[str, Any] = {"result": fn(*request["args"])}
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(w, json.dumps(reply, default=str).encode())
            os.close(w)
            os._exit(0)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 1 << 16):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        reply = json.loads(b"".join(chunks)) if chunks else {}
        out.write(json.dumps({"killed": killed, "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                              **reply}) + "\n")
        out.flush()


if __name__ == "__main__":
    serve(sys.argv[1:])
