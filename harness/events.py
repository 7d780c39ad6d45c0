"""Timeline events, each carried out as real transactions (or a runner-side switch).

Each handler returns one line for the journal, saying what happened on chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.errors import ScenarioRuntimeError
from harness.scenario.model import (
    CrashEvent,
    DepositEvent,
    ExternalTransferEvent,
    FailNextTradeEvent,
    InterestEvent,
    MempoolEvent,
    NodeFaultEvent,
    NodeRestartEvent,
    NoteEvent,
    PriceShockEvent,
    RebaseEvent,
    ReorgEvent,
    SetParameterEvent,
    WithdrawEvent,
)
from harness.world import World

if TYPE_CHECKING:
    from harness.engine import RunResult, ScenarioRun
    from runner.runner import ChainStrategyRunner


def _plain(value: Any) -> str:
    """A YAML value as a person wrote it: no Decimal('...') wrappers."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return str(value)


def _pct(x: Any) -> str:
    return f"{x * 100:+}%"


def apply_event(world: World, event: Any, run: ScenarioRun, runner: ChainStrategyRunner, result: RunResult) -> str:
    u = world.universe
    if isinstance(event, DepositEvent):
        world.deposit(event.by, event.amount)
        return f"deposit {event.amount} {u.reserve.symbol} by {event.by}"
    if isinstance(event, WithdrawEvent):
        units = world.withdraw(event.by, event.fraction, event.shares)
        return f"withdraw {u.reserve.from_units(units)} shares by {event.by}"
    if isinstance(event, RebaseEvent):
        world.rebase(u.token(event.token), event.change)
        return f"rebase {event.token} {_pct(event.change)}"
    if isinstance(event, InterestEvent):
        world.accrue_interest(u.token(event.token), event.rate)
        return f"interest {event.token} {_pct(event.rate)}"
    if isinstance(event, PriceShockEvent):
        price = world.price_shock(u.pool(event.pair), event.move, event.price)
        return f"price shock {event.pair} to {round(price, 6)}"
    if isinstance(event, FailNextTradeEvent):
        world.arm_fault(event.pair, event.mode, event.reason)
        return f"fail next trade on {event.pair or 'any pair'}: {event.mode} ({event.reason})"
    if isinstance(event, ExternalTransferEvent):
        world.external_transfer(u.token(event.token), event.amount)
        direction = "arrives at" if event.amount > 0 else "leaves"
        return f"{abs(event.amount)} {event.token} {direction} the vault behind the runner's back"
    if isinstance(event, CrashEvent):
        run.crash.armed = event.step
        return f"crash armed at step {event.step}"
    if isinstance(event, SetParameterEvent):
        runner.parameters[event.name] = event.value
        overrides = result.state.parameters.setdefault("overrides", {})
        overrides[event.name] = event.value
        return f"set parameter {event.name} = {_plain(event.value)}"
    if isinstance(event, NoteEvent):
        return f"note: {event.text}"
    if isinstance(event, NodeFaultEvent):
        assert run.faults is not None
        run.faults.arm(event.mode, event.calls, event.method)
        what = f"{event.method} request(s)" if event.method else "request(s)"
        return f"node fault: the next {event.calls} {what} {'time out' if event.mode == 'timeout' else 'fail'}"
    if isinstance(event, MempoolEvent):
        return _mempool(world, event, run)
    if isinstance(event, NodeRestartEvent):
        _needs_node(world, event, run)
        run.pool.restart_node(world.chain.backend.name)
        return f"node restarted ({event.reason}); chain kept by state dump"
    if isinstance(event, ReorgEvent):
        return _reorg(world, event, run)
    raise TypeError(f"no handler for event {type(event).__name__}")


NODE_BACKENDS = ("anvil", "revm")  # a mempool that can stall and drop, a node that can restart


def _needs_node(world: World, event: Any, run: ScenarioRun) -> None:
    if world.chain.backend.name not in NODE_BACKENDS:
        raise ScenarioRuntimeError(
            run.scenario.source.path, event.line, f"timeline: {event.kind}",
            f"needs a node with a mempool and a process (backend anvil or revm), not {world.chain.backend.name}; "
            "set chain: {backend: anvil} or run with --backend anvil",
        )


def _mempool(world: World, event: MempoolEvent, run: ScenarioRun) -> str:
    _needs_node(world, event, run)
    chain = world.chain
    if event.action == "stall":
        chain.automine = False
        return "blocks stall: broadcasts stay pending"
    if event.action == "resume":
        pending = len(chain.backend.pending_transactions())
        chain.automine = True
        chain.mine()
        return f"blocks resume: {pending} pending transaction(s) mined"
    dropped = [h for h in chain.backend.pending_transactions() if chain.backend.drop_transaction(h)]
    chain.automine = True
    return f"node dropped {len(dropped)} pending transaction(s)"


def _reorg(world: World, event: ReorgEvent, run: ScenarioRun) -> str:
    chain = world.chain
    snap = run.reorg_snaps.get(event.to)
    if snap is None:
        raise ScenarioRuntimeError(run.scenario.source.path, event.line, "timeline: reorg.to",
                                   "no chain snapshot at that instant")
    before = chain.block_number()
    chain.revert(snap)  # type: ignore[arg-type]
    run.reorg_snaps[event.to] = chain.snapshot()  # a snapshot is used up by a revert
    chain.set_clock(int(run.now.timestamp()))
    for wallet in world.accounts.all():
        chain.sync_nonce(wallet)
    return f"reorg: {before - chain.block_number()} block(s) replaced, back to {chain.block_number()}"
