"""Timeline events, each carried out as real transactions (or a runner-side switch).

Each handler returns one line for the journal, saying what happened on chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.scenario.model import (
    CrashEvent,
    DepositEvent,
    ExternalTransferEvent,
    FailNextTradeEvent,
    InterestEvent,
    NoteEvent,
    PriceShockEvent,
    RebaseEvent,
    SetParameterEvent,
    WithdrawEvent,
)
from harness.world import World

if TYPE_CHECKING:
    from runner.runner import ChainStrategyRunner

    from harness.engine import RunResult, ScenarioRun


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
        return f"set parameter {event.name} = {event.value}"
    if isinstance(event, NoteEvent):
        return f"note: {event.text}"
    raise TypeError(f"no handler for event {type(event).__name__}")
