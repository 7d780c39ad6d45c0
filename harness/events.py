"""Timeline events, each carried out as real transactions (or a runner-side switch).

One handler per event type, registered on the type; each gets a narrow
`EventContext` and returns one line for the journal saying what happened on chain.
Adding an event kind means a class in the scenario model and a handler here.
"""

from __future__ import annotations

import random
from functools import singledispatch
from typing import Any

from harness.context import EventContext
from harness.result import WithdrawalRecord
from harness.scenario.model import (
    CrashEvent,
    DepositEvent,
    Event,
    ExternalTransferEvent,
    ExternalTxEvent,
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
    WireFaultEvent,
    WithdrawEvent,
)
from harness.vocabulary import (
    SELF_TRANSFER,
    HostKind,
    KeyHolder,
    MempoolAction,
    NodeFaultMode,
    WireFault,
    WithdrawalStatus,
)
from harness.world import WorldActionFailed
from runner.chain.abi import artifact
from runner.chain.errors import Unsupported
from runner.chain.methods import NodeMethod
from runner.chain.wallet import ImpersonatedWallet, Wallet
from runner.steps import Step
from runner.universe import VaultKind


def _plain(value: Any) -> str:
    """A YAML value as a person wrote it: no Decimal('...') wrappers."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return str(value)


def _pct(x: Any) -> str:
    return f"{x * 100:+}%"


@singledispatch
def apply(event: Event, ctx: EventContext) -> str:
    """Carry out `event`; returns the journal line."""
    raise TypeError(f"no handler for event {type(event).__name__}")


@apply.register
def _deposit(event: DepositEvent, ctx: EventContext) -> str:
    ctx.world.deposit(event.by, event.amount)
    if ctx.world.universe.vault_kind == VaultKind.async_:  # a request, pending until the runner settles it
        return f"deposit request {event.amount} {ctx.world.universe.reserve.symbol} by {event.by}"
    return f"deposit {event.amount} {ctx.world.universe.reserve.symbol} by {event.by}"


@apply.register
def _withdraw(event: WithdrawEvent, ctx: EventContext) -> str:
    try:
        done = ctx.world.withdraw(event.by, event.fraction, event.shares)
    except WorldActionFailed as exc:  # the journal says it too (the engine's line)
        ctx.withdrawals.append(WithdrawalRecord(ctx.now, event.by, WithdrawalStatus.failed, exc.reason))
        raise
    status = WithdrawalStatus.queued if done.queued else WithdrawalStatus.paid
    ctx.withdrawals.append(WithdrawalRecord(ctx.now, event.by, status))
    shares = ctx.world.universe.reserve.from_units(done.shares_units)
    if ctx.world.universe.vault_kind == VaultKind.async_:
        return f"redemption request {shares:f} shares by {event.by}"
    return f"withdraw {shares:f} shares by {event.by}"  # :f: no share count is written 0E-18 or 1E-18


@apply.register
def _rebase(event: RebaseEvent, ctx: EventContext) -> str:
    ctx.world.rebase(ctx.world.universe.token(event.token), event.change)
    return f"rebase {event.token} {_pct(event.change)}"


@apply.register
def _interest(event: InterestEvent, ctx: EventContext) -> str:
    ctx.world.accrue_interest(ctx.world.universe.token(event.token), event.rate)
    return f"interest {event.token} {_pct(event.rate)}"


@apply.register
def _price_shock(event: PriceShockEvent, ctx: EventContext) -> str:
    price = ctx.world.price_shock(ctx.world.universe.pool(event.pair), event.move, event.price)
    return f"price shock {event.pair} to {round(price, 6)}"


@apply.register
def _fail_next_trade(event: FailNextTradeEvent, ctx: EventContext) -> str:
    ctx.world.arm_fault(event.pair, event.mode, event.reason)
    return f"fail next trade on {event.pair or 'any pair'}: {event.mode} ({event.reason})"


@apply.register
def _external_transfer(event: ExternalTransferEvent, ctx: EventContext) -> str:
    ctx.world.external_transfer(ctx.world.universe.token(event.token), event.amount)
    direction = "arrives at" if event.amount > 0 else "leaves"
    return f"{abs(event.amount)} {event.token} {direction} the vault behind the runner's back"


SELF_TRANSFER_GAS = 21_000
APPROVE_GAS = 100_000


@apply.register
def _external_tx(event: ExternalTxEvent, ctx: EventContext) -> str:
    """Real transactions signed with the runner's own key by another wallet (the operator's
    tool), which takes its nonce from the node as such a tool does; the runner's copy of
    the key is not told. All in one block, every receipt checked."""
    world, chain = ctx.world, ctx.world.chain
    sender = KeyHolder(event.sender)
    what = f"external_tx from {sender}"
    if not chain.automine:
        raise WorldActionFailed(what, "blocks are stalled (mempool stall)")
    held: Wallet = getattr(world.accounts, sender.value)
    wallet = Wallet(f"{held.label} (outside the runner)", held.private_key)
    if sender == KeyHolder.asset_manager and world.impersonate is not None:
        # An adopted vault's manager, whose key nobody here holds: sent as it, as the runner does.
        wallet = ImpersonatedWallet("asset manager (outside the runner)", world.impersonate)
    wallet.nonce = chain.backend.get_nonce(wallet.address)
    first = wallet.nonce
    if event.to == SELF_TRANSFER:
        to, data, gas, call = wallet.address, b"", SELF_TRANSFER_GAS, "a zero-value transfer to itself"
    else:
        token = world.universe.token(event.to)
        to, gas, call = token.address, APPROVE_GAS, f"{event.to}.approve(vault, 0)"
        data = artifact(world.token_contract(token)).fn("approve").encode(world.universe.vault, 0)
    hashes = [chain.send(wallet, to, data, gas) for _ in range(event.count)]
    for receipt in chain.wait_many(hashes):
        if receipt is None or not receipt.success:
            raise WorldActionFailed(what, receipt.revert_reason if receipt is not None else "not mined")
    nonces = f"nonce {first}" if event.count == 1 else f"nonces {first}..{wallet.nonce - 1}"
    return f"{event.count} transaction(s) signed with the {sender} key outside the runner: {call} ({nonces})"


@apply.register
def _crash(event: CrashEvent, ctx: EventContext) -> str:
    if event.step is not None:
        ctx.run.arm_crash(step=Step(event.step))
        return f"crash armed at step {event.step}"
    point = random.Random(f"crash:{ctx.seed}:{event.line}:{event.at}").randint(1, event.within)
    ctx.run.arm_crash(after=point)
    return f"crash armed at a random instant: kill point {point} of the runner's work from now"


@apply.register
def _set_parameter(event: SetParameterEvent, ctx: EventContext) -> str:
    ctx.run.set_parameter(event.name, event.value)
    return f"set parameter {event.name} = {_plain(event.value)}"


@apply.register
def _note(event: NoteEvent, ctx: EventContext) -> str:
    return f"note: {event.text}"


@apply.register
def _node_fault(event: NodeFaultEvent, ctx: EventContext) -> str:
    ctx.faults.arm(NodeFaultMode(event.mode), event.calls, NodeMethod(event.method) if event.method else None)
    what = f"{event.method} request(s)" if event.method else "request(s)"
    verb = "time out" if event.mode == NodeFaultMode.timeout else "fail"
    return f"node fault: the next {event.calls} {what} {verb}"


@apply.register
def _wire_fault(event: WireFaultEvent, ctx: EventContext) -> str:
    if ctx.wire is None:
        raise Unsupported(f"a runner hosted {HostKind.in_process}", "meet a fault of the wire (it has none)",
                          f"run on backend anvil with host {HostKind.process}, behind the wire proxy")
    method = NodeMethod(event.method) if event.method else None
    what = f"{event.method} request(s)" if event.method else "request(s)"
    if event.lag is not None:
        ctx.wire.lag(event.lag, method, event.calls)
        count = f"the next {event.calls}" if event.calls is not None else "this instant's"
        return f"wire: {count} {what} answered by a replica {event.lag} block(s) behind"
    assert event.mode is not None
    calls = event.calls if event.calls is not None else 1
    ctx.wire.arm(WireFault(event.mode), calls, method)
    return f"wire fault: the next {calls} {what} meet {event.mode}"


@apply.register
def _mempool(event: MempoolEvent, ctx: EventContext) -> str:
    action = MempoolAction(event.action)
    if action == MempoolAction.stall:
        ctx.node.stall()
        return "blocks stall: broadcasts stay pending"
    if action == MempoolAction.resume:
        return f"blocks resume: {ctx.node.resume()} pending transaction(s) mined"
    return f"node dropped {ctx.node.drop()} pending transaction(s)"


@apply.register
def _node_restart(event: NodeRestartEvent, ctx: EventContext) -> str:
    ctx.node.restart()
    return f"node restarted ({event.reason}); chain kept by state dump"


@apply.register
def _reorg(event: ReorgEvent, ctx: EventContext) -> str:
    replaced, head = ctx.node.reorg(event.to, int(ctx.now.timestamp()))
    return f"reorg: {replaced} block(s) replaced, back to {head}"


__all__ = ["apply"]
