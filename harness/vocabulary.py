"""Words the scenario format shares with the machinery that carries it out.

Defined once: the scenario model validates against these, the engine and event handlers
dispatch on them, the world turns them into transactions, snapshots and reports print
them. The runner's own words (steps, node methods, trade statuses, verdicts, causes) live
in `runner` and are imported from there.
"""

from __future__ import annotations

from enum import StrEnum


class BackendName(StrEnum):
    """The chain a scenario runs on."""

    eth_tester = "eth-tester"
    anvil = "anvil"
    anvil_fork = "anvil-fork"
    revm = "revm"


class HostKind(StrEnum):
    """Where the runner runs during a scenario."""

    in_process = "in-process"  # the harness's own process: a crash is an exception at a kill point
    process = "process"  # its own process: a crash is SIGKILL, a restart a new process


PROCESS_BACKENDS: tuple[BackendName, ...] = (BackendName.anvil, BackendName.anvil_fork)
"""Backends a runner process can reach (a node over JSON-RPC); the others live in this process."""


class TradeFaultMode(StrEnum):
    """How `fail_next_trade` makes the runner's next trade fail on chain."""

    revert = "revert"
    out_of_gas = "out_of_gas"
    slippage = "slippage"
    transfer_failure = "transfer_failure"


class NodeFaultMode(StrEnum):
    """How the node fails the runner's requests: an error answer, or no answer at all."""

    error = "error"
    timeout = "timeout"


class KeyHolder(StrEnum):
    """A key the runner signs with that someone else may use too (`external_tx.from`);
    each value names the harness account (`harness.accounts.Accounts`) holding that key."""

    asset_manager = "asset_manager"


SELF_TRANSFER = "self"
"""`external_tx.to: self`: a zero-value transfer to the sender itself; it only uses a nonce."""


class WireFault(StrEnum):
    """A fault the wire proxy injects (harness/wire/faults.py says what each does); the
    scenario's `wire_fault.mode` words."""

    reset = "reset"
    reset_after = "reset_after"
    timeout = "timeout"
    slow = "slow"
    rpc_error = "rpc_error"
    http_5xx = "http_5xx"
    http_429 = "http_429"
    truncated = "truncated"
    duplicate_send = "duplicate_send"


class WithdrawalStatus(StrEnum):
    """What became of an investor's redemption (the `withdrawal` expectation)."""

    paid = "paid"  # redeemed at once from the vault's cash
    queued = "queued"  # more than the cash: joined the ERC-4626 vault's queue, paid later
    failed = "failed"  # refused on chain (the legacy vault pays from cash only)


class MempoolAction(StrEnum):
    """What the node does with block production and its pending transactions."""

    stall = "stall"
    resume = "resume"
    drop = "drop"


class InvariantName(StrEnum):
    """The invariants every run is checked against (harness/invariants/): a scenario
    skips one or expects one by these names."""

    booked_once = "booked-once"
    chain_truth_nav = "chain-truth-nav"
    costs_as_charged = "costs-as-charged"
    fair_shares = "fair-shares"
    ledger_equals_chain = "ledger-equals-chain"
    nothing_unfinished = "nothing-unfinished"
    repair_idempotent = "repair-idempotent"
    state_round_trip = "state-round-trip"
    trades_match_chain = "trades-match-chain"
    triggers_fire = "triggers-fire"


__all__ = ["PROCESS_BACKENDS", "SELF_TRANSFER", "BackendName", "HostKind", "InvariantName", "KeyHolder",
           "MempoolAction", "NodeFaultMode", "TradeFaultMode", "WireFault", "WithdrawalStatus"]
