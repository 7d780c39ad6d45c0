"""The node requests a backend serves, and what may be done with each.

One table for the retry policy (which requests are safe to ask again), the fault
injectors (which requests a scenario can make fail), the scenario format
(`node_fault: {method: ...}`), the wire proxy and the benchmarks.
"""

from __future__ import annotations

from enum import StrEnum


class NodeMethod(StrEnum):
    block_number = "block_number"
    block_timestamp = "block_timestamp"
    block_hash = "block_hash"
    call = "call"
    call_many = "call_many"
    get_code = "get_code"
    get_receipt = "get_receipt"
    get_receipts = "get_receipts"
    get_logs = "get_logs"
    get_nonce = "get_nonce"
    get_eth_balance = "get_eth_balance"
    send_raw_transaction = "send_raw_transaction"
    pending_transactions = "pending_transactions"
    pending_among = "pending_among"
    drop_transaction = "drop_transaction"
    mine = "mine"
    snapshot = "snapshot"
    revert = "revert"


READS: frozenset[NodeMethod] = frozenset({
    NodeMethod.block_number, NodeMethod.block_timestamp, NodeMethod.block_hash, NodeMethod.call,
    NodeMethod.call_many, NodeMethod.get_code, NodeMethod.get_receipt, NodeMethod.get_receipts, NodeMethod.get_logs,
    NodeMethod.get_nonce, NodeMethod.get_eth_balance, NodeMethod.pending_among,
})
"""Idempotent reads: asking again can only give a newer answer, so they are retried."""

RESENDABLE: frozenset[NodeMethod] = frozenset({NodeMethod.send_raw_transaction})
"""Safe to repeat because the request is the same signed bytes ("already known" means sent)."""

FAULTABLE: tuple[NodeMethod, ...] = tuple(m for m in NodeMethod if m in READS or m in RESENDABLE)
"""The runner's own requests, which a scenario can make fail; mining and snapshots are the
harness's (the node's business), so they never fail on purpose."""

__all__ = ["FAULTABLE", "READS", "RESENDABLE", "NodeMethod"]
