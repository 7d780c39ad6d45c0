"""Which JSON-RPC methods carry each runner `NodeMethod`: the one table the proxy reads.

The in-process fault proxy sees `NodeMethod`s; the wire proxy sees JSON-RPC bodies. A
scenario names either (`method: get_nonce` or `method: eth_getTransactionCount`), so the
mapping lives here once and both directions are derived from it. A `NodeMethod` maps to
the requests `RpcBackend`/`AnvilBackend` make for it, first the one that carries it
(what a fault aimed at that method hits), then secondary look-ups (a failed receipt's
revert replay, a receipt's gas limit).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.wire.lag import LAGGED_METHODS
from runner.chain.methods import FAULTABLE, NodeMethod

RPC_METHODS: Mapping[NodeMethod, tuple[str, ...]] = {
    NodeMethod.block_number: ("eth_blockNumber",),
    NodeMethod.block_timestamp: ("eth_getBlockByNumber",),
    NodeMethod.block_hash: ("eth_getBlockByNumber",),
    NodeMethod.call: ("eth_call",),
    NodeMethod.call_many: ("eth_call",),  # a JSON-RPC batch of eth_call
    NodeMethod.get_code: ("eth_getCode",),
    NodeMethod.get_receipt: ("eth_getTransactionReceipt", "eth_getTransactionByHash"),
    NodeMethod.get_receipts: ("eth_getTransactionReceipt", "eth_getTransactionByHash"),
    NodeMethod.get_logs: ("eth_getLogs",),
    NodeMethod.get_nonce: ("eth_getTransactionCount",),
    NodeMethod.get_eth_balance: ("eth_getBalance",),
    NodeMethod.send_raw_transaction: ("eth_sendRawTransaction",),
    NodeMethod.pending_transactions: ("eth_getBlockByNumber",),
    NodeMethod.pending_among: ("eth_getTransactionByHash",),
    NodeMethod.drop_transaction: ("anvil_dropTransaction",),
    NodeMethod.mine: ("evm_mine",),
    NodeMethod.snapshot: ("evm_snapshot",),
    NodeMethod.revert: ("evm_revert", "anvil_dropAllTransactions"),
}
"""NodeMethod -> the JSON-RPC methods its backend call sends, the carrying one first."""

SEND_RAW = "eth_sendRawTransaction"

FAULTABLE_RPC: frozenset[str] = frozenset(rpc for m in FAULTABLE for rpc in RPC_METHODS[m])
"""JSON-RPC methods of the runner's own requests: the only ones the proxy makes fail.
Mining, snapshots and the harness's impersonation (`eth_sendTransaction`, `anvil_*`) are
the node's business and always pass untouched, as with the in-process proxy."""

LAGGABLE: tuple[NodeMethod, ...] = tuple(m for m in FAULTABLE if RPC_METHODS[m][0] in LAGGED_METHODS)
"""The runner's requests a lagging replica answers from its stale view (`wire_fault: {lag: N, method: ...}`)."""

NODE_METHODS: Mapping[str, tuple[NodeMethod, ...]] = {
    rpc: tuple(m for m in NodeMethod if RPC_METHODS[m][:1] == (rpc,))
    for rpc in sorted({r for names in RPC_METHODS.values() for r in names})
}
"""JSON-RPC method -> the NodeMethods it carries (empty for a secondary look-up)."""


def rpc_targets(method: NodeMethod | str | None) -> frozenset[str] | None:
    """The JSON-RPC methods a fault aimed at `method` hits; None means every faultable one.

    A `NodeMethod` (or its name) hits the request that carries it; a JSON-RPC name hits
    exactly that method. Raises `ValueError` for a name that is neither, or for a
    request the proxy never faults.
    """
    if method is None:
        return None
    node = NodeMethod(method) if method in set(NodeMethod) else None
    if node is not None:
        if node not in FAULTABLE:
            raise ValueError(f"{node} is the harness's request (mining, snapshots): it is never faulted; "
                             f"faultable: {', '.join(FAULTABLE)}")
        return frozenset(RPC_METHODS[node][:1])
    if method in FAULTABLE_RPC:
        return frozenset({str(method)})
    raise ValueError(f"{method!r} is neither a runner NodeMethod ({', '.join(FAULTABLE)}) nor a faultable "
                     f"JSON-RPC method ({', '.join(sorted(FAULTABLE_RPC))})")


__all__ = ["FAULTABLE_RPC", "LAGGABLE", "NODE_METHODS", "RPC_METHODS", "SEND_RAW", "rpc_targets"]
