"""The runner in its own process, as a deployment runs it: killed for real, restarted fresh.

`ProcessHost` starts `python -m runner.service` (the same code a live deployment runs)
with the node's URL (through the wire proxy, so node faults are faults of the real
transport) and the state file, and drives it with one command per tick or trigger
check. A crash is the child's own SIGKILL at the armed kill point (a step's end, a node
request, a state write): nothing of the dead process survives but what its store
wrote. A restart is a new process that loads the state file and resumes (repair,
sync, check) first. The harness reads the child's state back from the same file, as
an operator's tools would: the child is never asked for its memory.

Only node backends can host a runner process (the embedded chains live in the
harness's own process).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from harness.errors import HarnessError
from harness.host import (
    MAX_RESUMES,
    OVERRIDES,
    Outcome,
    OutcomeKind,
    Restarted,
    accounting_policy,
    load_scenario_strategy,
    new_state,
    runner_account,
)
from harness.runner_forkserver import ForkedProcess, ForkServer, child_env
from harness.scenario.model import Scenario
from harness.vocabulary import NodeFaultMode
from harness.wire import WireFault, WireProxy
from harness.world import World
from runner.chain.client import ChainClient
from runner.chain.methods import NodeMethod
from runner.killpoints import KILLED_AT
from runner.runner import ChainStrategyRunner
from runner.service import ServiceConfig, config_bytes
from runner.state import SegmentedStateStore, State
from runner.steps import Step

REPLY_DEADLINE = 300.0  # float-ok: seconds; a command that takes longer means the child hangs
CHILD_RPC_TIMEOUT = 1.0  # float-ok: seconds; a timeout fault costs this much wall time
WIRE_FAULTS = {NodeFaultMode.error: WireFault.rpc_error, NodeFaultMode.timeout: WireFault.timeout}


ForkServerFor = Callable[[Mapping[str, str], str], ForkServer]
"""The fork server whose children get this environment and working directory."""


class RunnerProcessError(HarnessError):
    """The runner process misbehaved (no answer, a malformed reply, died at start-up)."""


class WireFaults:
    """Node faults on the wire: `node_fault` and `wire_fault` events arm the proxy in
    front of the child; both last until the end of the instant (`disarm`)."""

    def __init__(self, proxy: WireProxy) -> None:
        self.proxy = proxy

    def arm(self, mode: NodeFaultMode | WireFault, calls: int, method: NodeMethod | None = None) -> None:
        fault = mode if isinstance(mode, WireFault) else WIRE_FAULTS[NodeFaultMode(mode)]
        self.proxy.arm(fault, calls=calls, method=method)

    def lag(self, blocks: int, method: NodeMethod | None = None, calls: int | None = None) -> None:
        self.proxy.lag(blocks, method, calls)

    def disarm(self) -> int:
        """Lift every fault and the lag; how many armed faults were not used."""
        self.proxy.unlag()
        return self.proxy.disarm()


class ProcessHost:
    """The runner in a child process on a node backend, killed by SIGKILL when it crashes."""

    def __init__(self, scenario: Scenario, world: World, state_path: Path, proxy: WireProxy,
                 forks: ForkServerFor | None = None) -> None:
        self.scenario = scenario
        self.forks = forks  # None: each runner process a fresh exec
        self.world = world
        self.proxy = proxy
        self.state_path = state_path
        self.store = SegmentedStateStore(state_path, fsync=False)
        self.state = new_state(scenario, world)
        self.store.save(self.state)
        self.strategy = load_scenario_strategy(scenario)
        self.retries: list[str] = []
        self.spawned = 0
        self._dir = tempfile.TemporaryDirectory(prefix="dst-runner-")
        self._config_path = Path(self._dir.name) / "config.json"
        self._config_path.write_bytes(config_bytes(self._config()))
        self._log_path = Path(self._dir.name) / "runner.log"
        self._proc: subprocess.Popen[bytes] | ForkedProcess | None = None
        self._armed_at: str | None = None
        self._spawn()

    # -- the child ---------------------------------------------------------------------
    def _config(self) -> ServiceConfig:
        s = self.scenario
        acc = s.accounting
        return ServiceConfig(
            rpc_url=self.proxy.url, state_path=str(self.state_path), universe=self.world.universe,
            strategy=s.strategy.module, parameters=dict(s.strategy.parameters), tolerance=acc.tolerance,
            relative_tolerance=acc.relative_tolerance, dust=acc.dust, on_mismatch=acc.on_mismatch,
            tolerance_units=acc.tolerance_units, dust_units=acc.dust_units, accounting_checks=acc.checks,
            rpc_timeout=_decimal(CHILD_RPC_TIMEOUT), asset_manager=self.world.accounts.asset_manager.label,
            impersonate=None if self.world.impersonate is None else "0x" + self.world.impersonate.hex(),
        )

    def _spawn(self) -> None:
        env = child_env()
        args = [sys.executable, "-m", "runner.service", str(self._config_path)]
        if self.forks is not None:
            self._proc = self.forks(env, os.getcwd()).spawn(args, self._log_path)
        else:
            log = open(self._log_path, "ab")  # noqa: SIM115 - the child owns it from here
            try:
                self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
            finally:
                log.close()
        self.spawned += 1
        ready = self._read_line()
        if ready is None or not json.loads(ready).get("ready"):
            raise RunnerProcessError(f"the runner process did not start: {self._log_tail()}")

    def _read_line(self) -> bytes | None:
        """The child's next reply line, or None when it died (its pipe closed)."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        out: IO[bytes] = proc.stdout
        ready, _, _ = select.select([out], [], [], REPLY_DEADLINE)
        if not ready:
            proc.kill()
            raise RunnerProcessError(f"the runner process gave no answer in {REPLY_DEADLINE:.0f}s: {self._log_tail()}")
        line = out.readline()
        if not line:
            proc.wait()
            return None
        return line

    def _send(self, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """One command; its reply, or None when the child died doing it."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write((json.dumps(cmd) + "\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            proc.wait()
            return None
        line = self._read_line()
        if line is None:
            return None
        reply: dict[str, Any] = json.loads(line)
        self.retries.extend(reply.get("retries", []))
        return reply

    def _log_tail(self, chars: int = 2000) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-chars:].strip() or "(no output)"
        except OSError:
            return "(no log)"

    def _died(self) -> Outcome:
        proc = self._proc
        assert proc is not None
        code = proc.returncode
        if code != -9:  # not our SIGKILL: a real death is a bug to show, with its words
            raise RunnerProcessError(f"the runner process exited with code {code}: {self._log_tail()}")
        return Outcome(OutcomeKind.crashed, step=self._killed_at() or self._armed_at, error="killed by SIGKILL",
                       error_kind="SIGKILL")

    def _killed_at(self) -> str | None:
        """The kill point the child named on its way out (its log's last such line)."""
        lines = [line for line in self._log_tail(4000).splitlines() if line.startswith(KILLED_AT)]
        return lines[-1].removeprefix(KILLED_AT).strip() if lines else None

    # -- what the engine asks ------------------------------------------------------------
    def _command(self, cmd: dict[str, Any], ts: datetime) -> tuple[Outcome, dict[str, Any] | None]:
        chain = self.world.chain
        cmd = {**cmd, "ts": ts.isoformat(), "automine": chain.automine, "open_block_ts": chain.open_block_ts,
               "head": chain.block_number(), "last_block_ts": chain.last_block_ts}
        reply = self._send(cmd)
        self._after_child(ts, reply.get("open_block_ts") if reply is not None else None)
        if reply is None:
            return self._died(), None
        kind = OutcomeKind(reply["outcome"])
        return Outcome(kind, status=reply.get("status", "ok"), error=reply.get("error"),
                       error_kind=reply.get("error_kind")), reply

    def _after_child(self, ts: datetime, open_block_ts: int | None = None) -> None:
        """The child sealed blocks, left one being built, and saved state: take all up."""
        self.world.chain.resync(int(ts.timestamp()), open_block_ts)  # head: asked again
        self.state = self.store.reload()  # what the child appended since the last command

    def _trades(self, ids: list[int]) -> list[Any]:
        return self.state.portfolio.trades_with_ids(set(ids))

    def tick(self, ts: datetime, cycle: int) -> Outcome:
        outcome, reply = self._command({"cmd": "tick", "cycle": cycle}, ts)
        if reply is not None and outcome.kind == OutcomeKind.ok:
            outcome.trades = self._trades(reply.get("trades", []))
        return outcome

    def trigger_check(self, ts: datetime) -> Outcome:
        outcome, reply = self._command({"cmd": "trigger"}, ts)
        if reply is not None and outcome.kind == OutcomeKind.ok:
            outcome.trades = self._trades(reply.get("trades", []))
        return outcome

    def abandon(self) -> State:
        self.state = self.store.load()
        return self.state

    def restart(self, ts: datetime) -> Restarted:
        """A new process: it loads the state file and resumes before anything else."""
        done = Restarted()
        for _attempt in range(MAX_RESUMES):
            self.chain_goes_on(ts)
            self._spawn()
            outcome, reply = self._command({"cmd": "resume"}, ts)
            if reply is None:
                done.deaths.append(outcome.step or "resume")
                continue
            if outcome.kind == OutcomeKind.node_error:  # as in process: exit, restart again
                done.deaths.append(f"resume ({outcome.error_kind})")
                continue
            if outcome.kind == OutcomeKind.stopped:
                done.stopped = outcome
            done.fixed = self._trades(reply.get("trades", []))
            return done
        raise HarnessError(f"{self.scenario.source.path}: the runner died {MAX_RESUMES} times in a row while resuming")

    def chain_goes_on(self, ts: datetime) -> None:
        """The chain goes on without the dead runner: what it left pending is mined."""
        chain = self.world.chain
        self._after_child(ts)
        if chain.automine and chain.backend.pending_transactions():
            chain.mine()

    def set_parameter(self, name: str, value: Any) -> None:
        reply = self._send({"cmd": "set_parameter", "name": name, "value": _jsonable(value)})
        if reply is None:
            raise RunnerProcessError(f"the runner process died changing a parameter: {self._log_tail()}")
        self.state = self.store.load()

    def arm_crash(self, *, step: Step | None = None, after: int | None = None) -> None:
        self._armed_at = str(step) if step is not None else f"kill point {after}"
        reply = self._send({"cmd": "arm", "step": str(step) if step is not None else None, "after": after})
        if reply is None:
            raise RunnerProcessError(f"the runner process died arming a crash: {self._log_tail()}")

    def spare_runner(self, chain: ChainClient) -> ChainStrategyRunner:
        overrides = self.state.parameters.get(OVERRIDES, {})
        return ChainStrategyRunner(
            chain=chain, universe=self.world.universe, strategy=self.strategy,
            parameters={**self.scenario.strategy.parameters, **overrides},
            asset_manager=runner_account(self.world), accounting_policy=accounting_policy(self.scenario),
            accounting_checks=self.scenario.accounting.checks,
        )

    def close(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(b'{"cmd": "quit"}\n')
                proc.stdin.flush()
                proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        self._dir.cleanup()


def _jsonable(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _decimal(x: float) -> Any:  # float-ok: a timeout in seconds
    from decimal import Decimal

    return Decimal(str(x))


__all__ = ["ProcessHost", "RunnerProcessError", "WireFaults"]
