"""Node faults on demand: the next N requests fail with an error or a timeout.

A backend proxy, so both chains (embedded and anvil) fail the same requests in the same
order and a node-fault scenario keeps one snapshot for both. A timeout is the nasty
case: the request reaches the node and its answer is lost, so the caller cannot know
whether it happened. An error means the node refused it.
"""

from __future__ import annotations

from typing import Any

from runner.chain.backend import ChainBackend
from runner.chain.errors import NodeError, NodeTimeout

FAULTABLE = ("block_number", "block_timestamp", "block_hash", "call", "call_many", "get_receipt", "get_receipts",
             "get_logs",
             "get_nonce", "get_eth_balance", "send_raw_transaction")


class FaultInjectingBackend:
    def __init__(self, inner: ChainBackend) -> None:
        self.inner = inner
        self.remaining = 0
        self.mode = "error"
        self.injected: list[str] = []
        self.method: str | None = None

    def arm(self, mode: str, calls: int, method: str | None = None) -> None:
        self.mode = mode
        self.remaining = calls
        self.method = method

    def disarm(self) -> int:
        left, self.remaining = self.remaining, 0
        return left

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def chain_id(self) -> int:
        return self.inner.chain_id

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in FAULTABLE:
            return target

        def faulty(*args: Any, **kwargs: Any) -> Any:
            if self.remaining <= 0 or (self.method is not None and self.method != name):
                return target(*args, **kwargs)
            self.remaining -= 1
            self.injected.append(f"{name}: {self.mode}")
            if self.mode == "timeout":
                target(*args, **kwargs)  # it reached the node; the answer is lost
                raise NodeTimeout(name, "no answer (injected timeout)")
            raise NodeError(name, "internal error (injected)", -32603)

        return faulty

    # Explicit methods for the protocol's non-faultable members keep type checkers happy.
    def mine(self, timestamp: int) -> int:
        return self.inner.mine(timestamp)

    def snapshot(self) -> object:
        return self.inner.snapshot()

    def revert(self, snapshot_id: object) -> None:
        self.inner.revert(snapshot_id)

    def pending_transactions(self) -> list[bytes]:
        return self.inner.pending_transactions()

    def drop_transaction(self, tx_hash: bytes) -> bool:
        return self.inner.drop_transaction(tx_hash)

    def close(self) -> None:
        self.inner.close()


__all__ = ["FaultInjectingBackend"]
