"""The runner as a process: what a deployment runs, driven by a scheduler over a pipe.

    python -m runner.service CONFIG.json        (commands on stdin, replies on stdout)

The process knows only what a live runner knows: a node's JSON-RPC URL, its state
file, its universe (addresses), its strategy and policy. Everything it remembers
survives only through its state store; a restart is a new process that loads the file
and resumes (repair, sync, check) before anything else. The scheduler (the harness, or
a cron-like loop in production) sends one JSON command per line:

    {"cmd": "tick", "ts": ISO, "cycle": N, "automine": true, "open_block_ts": T|null}
    {"cmd": "trigger", "ts": ISO, "automine": true, "open_block_ts": T|null}
    {"cmd": "set_parameter", "name": ..., "value": ...}
    {"cmd": "arm", "step": STEP} | {"cmd": "arm", "after": K}   (die by SIGKILL there)
    {"cmd": "quit"}

and reads one JSON reply per line: the outcome, the trades the command touched, the
retries it made. A command that kills the process gets no reply: the pipe closes.
Time is the command's timestamp: Python's clock is frozen to it and blocks are sealed at
it, as in the harness's own process.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import msgspec

from runner.accounting import AccountingPolicy
from runner.chain.anvil import AnvilBackend
from runner.chain.client import ChainClient
from runner.chain.errors import ChainError
from runner.chain.retry import RetryingBackend
from runner.chain.wallet import ImpersonatedWallet, Wallet
from runner.errors import RunnerError, SimulatedCrash
from runner.killpoints import KillSwitch
from runner.runner import ChainStrategyRunner
from runner.state import MismatchPolicy, SegmentedStateStore, State
from runner.strategy.loader import load_strategy
from runner.universe import Universe

logger = logging.getLogger(__name__)
OVERRIDES = "overrides"


class ServiceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything the process is started with (a live runner's configuration)."""

    rpc_url: str
    state_path: str
    universe: Universe
    strategy: str
    parameters: dict[str, Any]
    tolerance: Decimal
    relative_tolerance: Decimal
    dust: Decimal
    on_mismatch: MismatchPolicy
    tolerance_units: Decimal | None
    dust_units: Decimal | None
    accounting_checks: bool
    asset_manager: str = "asset-manager"  # the label its key derives from
    impersonate: str | None = None  # 0x address: send as it without a key (a fork of a real vault)
    rpc_timeout: Decimal = Decimal(30)


_decode_config = msgspec.json.Decoder(ServiceConfig)
_encode = msgspec.json.Encoder(decimal_format="string")


def config_bytes(config: ServiceConfig) -> bytes:
    return _encode.encode(config)


@dataclass
class Service:
    """One runner process: a runner, its chain client, its store, and the kill switch."""

    config: ServiceConfig
    out: TextIO

    def __post_init__(self) -> None:
        c = self.config
        self.universe = _relink(c.universe)
        self.backend = AnvilBackend(c.rpc_url, timeout=float(c.rpc_timeout))  # float-ok: seconds
        self.retrying = RetryingBackend(self.backend)
        self.kill = KillSwitch()
        # No request at start-up: the chain is taken from each command (`_at`).
        self.chain = ChainClient(self.kill.around(self.retrying), clock=0, last_block_ts=0)
        self.store = SegmentedStateStore(Path(c.state_path), fsync=False)
        self.kill.watch_files()
        self.state: State = self.store.load()
        self.runner = self._runner()
        self._reported = 0

    def _runner(self) -> ChainStrategyRunner:
        c = self.config
        policy = AccountingPolicy(c.tolerance, c.relative_tolerance, c.dust, c.on_mismatch, c.tolerance_units,
                                  c.dust_units)
        overrides = self.state.parameters.get(OVERRIDES, {})
        return ChainStrategyRunner(
            chain=self.chain, universe=self.universe, strategy=load_strategy(c.strategy),
            parameters={**c.parameters, **overrides}, asset_manager=self._account(),
            accounting_policy=policy, step_hook=self.kill.step, accounting_checks=c.accounting_checks,
        )

    def _account(self) -> Wallet:
        """Its own key, or (`impersonate`) the account it sends as without one."""
        c = self.config
        if c.impersonate is not None:
            return ImpersonatedWallet("adopted asset manager", bytes.fromhex(c.impersonate.removeprefix("0x")))
        return Wallet.from_label(c.asset_manager)

    # -- commands -------------------------------------------------------------------
    def _at(self, ts: datetime, cmd: dict[str, Any]) -> None:
        """The scheduler's instant, and the chain as the scheduler left it: its head, its
        last block's time, a block being built (pending transactions, its time fixed by
        the first). Taken from the command, not asked of the node, so this process makes
        exactly the requests a runner sharing the scheduler's chain client would."""
        self.chain.resync(int(ts.timestamp()), cmd.get("open_block_ts"), head=cmd.get("head"),
                          last_block_ts=cmd.get("last_block_ts"))
        self.chain.automine = bool(cmd.get("automine", True))

    def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        kind = cmd["cmd"]
        if kind == "arm":
            self.kill.arm(step=cmd.get("step"), after=cmd.get("after"))
            return {"outcome": "ok"}
        if kind == "set_parameter":
            self.runner.parameters[cmd["name"]] = cmd["value"]
            self.state.parameters.setdefault(OVERRIDES, {})[cmd["name"]] = cmd["value"]
            self.store.save(self.state)
            return {"outcome": "ok"}
        ts = scheduled(cmd["ts"])
        self._at(ts, cmd)
        try:
            if kind == "resume":
                fixed = self.runner.resume(self.state, ts)
                self.store.save(self.state)
                return self._reply("ok", [t.trade_id for t in fixed])
            if kind == "tick":
                details = self.runner.tick(ts, self.universe, self.state, {}, cycle=int(cmd["cycle"]), store=self.store)
                return self._reply("ok", list(details.get("trades", [])), details.get("status", "ok"))
            if kind == "trigger":
                trades = self.runner.check_position_triggers(ts, self.state, self.universe, store=self.store)
                return self._reply("ok", [t.trade_id for t in trades])
        except SimulatedCrash as crash:  # only in-process kill switches raise; here SIGKILL came first
            return self._reply("crashed", error=str(crash))
        except ChainError as exc:
            return self._reply("node_error", error=str(exc), error_kind=type(exc).__name__)
        except RunnerError as exc:
            return self._reply("stopped", error=str(exc), error_kind=type(exc).__name__)
        raise ValueError(f"unknown command {kind!r}")

    def _reply(self, outcome: str, trades: list[int] | None = None, status: str = "ok", error: str | None = None,
               error_kind: str | None = None) -> dict[str, Any]:
        retries = self.retrying.retries[self._reported:]
        self._reported = len(self.retrying.retries)
        return {"outcome": outcome, "trades": trades or [], "status": status, "error": error,
                "error_kind": error_kind, "retries": retries, "open_block_ts": self.chain.open_block_ts}

    def serve(self, commands: TextIO) -> None:
        from freezegun import freeze_time

        with freeze_time(self.state.last_updated_at or self.state.created_at) as frozen:
            for line in commands:
                cmd = json.loads(line)
                if cmd["cmd"] == "quit":
                    return
                if "ts" in cmd:
                    frozen.move_to(scheduled(cmd["ts"]))
                reply = self.handle(cmd)
                self.out.write(json.dumps(reply) + "\n")
                self.out.flush()


def scheduled(text: str) -> datetime:
    """A command's time as a plain datetime: under the frozen clock `datetime` itself is
    freezegun's class, and its instances would leak into the state file's encoder."""
    from freezegun.api import real_datetime

    return real_datetime.fromisoformat(text)  # type: ignore[no-any-return]


def _relink(u: Universe) -> Universe:
    """Pools decoded from JSON hold copies of their tokens: point them at the universe's."""
    import dataclasses

    pools = {k: dataclasses.replace(p, base=u.tokens[p.base.symbol], quote=u.tokens[p.quote.symbol])
             for k, p in u.pools.items()}
    return dataclasses.replace(u, reserve=u.tokens[u.reserve.symbol], pools=pools)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    config = _decode_config.decode(Path(args[0]).read_bytes())
    service = Service(config, sys.stdout)
    service.out.write(json.dumps({"ready": True}) + "\n")
    service.out.flush()
    service.serve(sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
