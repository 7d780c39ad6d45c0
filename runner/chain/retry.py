"""Retrying what is safe to retry, and only that.

Reads are idempotent: a failed read is asked again (up to `attempts` times, with no
sleep: time belongs to the scenario clock; a live deployment would put its back-off in
`on_retry`). A broadcast is safe to repeat because it is the same signed bytes: a node
that already has it answers "already known" or "nonce too low", which means it was sent.
Mining is the node's business and is passed through unretried. Every retry is counted
and remembered, so the outcome can be shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from runner.chain.backend import Call, ChainBackend, Log, Receipt
from runner.chain.errors import NodeError, TransactionRejected

T = TypeVar("T")
ALREADY_SENT = ("already known", "nonce too low", "already imported", "known transaction")


class RetryingBackend:
    """A ChainBackend proxy that retries idempotent requests on node errors."""

    def __init__(self, inner: ChainBackend, attempts: int = 4,
                 on_retry: Callable[[str, NodeError], None] | None = None) -> None:
        self.inner = inner
        self.attempts = attempts
        self.on_retry = on_retry
        self.retries: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.inner.name

    @property
    def chain_id(self) -> int:
        return self.inner.chain_id

    def _retry(self, what: str, fn: Callable[[], T]) -> T:
        last: NodeError | None = None
        for _ in range(self.attempts):
            try:
                return fn()
            except NodeError as exc:
                last = exc
                self.retries.append(f"{what}: {type(exc).__name__}: {exc.message}")
                if self.on_retry is not None:
                    self.on_retry(what, exc)
        assert last is not None
        raise last

    def block_number(self) -> int:
        return self._retry("block_number", self.inner.block_number)

    def block_timestamp(self, block: int | None = None) -> int:
        return self._retry("block_timestamp", lambda: self.inner.block_timestamp(block))

    def block_hash(self, block: int) -> bytes | None:
        return self._retry("block_hash", lambda: self.inner.block_hash(block))

    def call(self, to: bytes, data: bytes, block: int | None = None, sender: bytes | None = None) -> bytes:
        return self._retry("call", lambda: self.inner.call(to, data, block, sender))

    def call_many(self, calls: Sequence[Call], block: int | None = None) -> list[bytes]:
        return self._retry("call_many", lambda: self.inner.call_many(calls, block))

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        return self._retry("get_receipt", lambda: self.inner.get_receipt(tx_hash))

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        return self._retry("get_receipts", lambda: self.inner.get_receipts(tx_hashes))

    def get_logs(self, address: bytes | Sequence[bytes], topics: Sequence[bytes | None], from_block: int, to_block: int) -> list[Log]:
        return self._retry("get_logs", lambda: self.inner.get_logs(address, topics, from_block, to_block))

    def get_nonce(self, address: bytes) -> int:
        return self._retry("get_nonce", lambda: self.inner.get_nonce(address))

    def get_eth_balance(self, address: bytes) -> int:
        return self._retry("get_eth_balance", lambda: self.inner.get_eth_balance(address))

    def pending_transactions(self) -> list[bytes]:
        return self.inner.pending_transactions()

    def send_raw_transaction(self, raw: bytes) -> bytes:
        def send() -> bytes:
            try:
                return self.inner.send_raw_transaction(raw)
            except TransactionRejected as exc:
                if any(s in exc.message.lower() for s in ALREADY_SENT) and self.retries and \
                        self.retries[-1].startswith("send_raw_transaction"):
                    from eth_hash.auto import keccak

                    return keccak(raw)  # an earlier attempt reached the node
                raise
        return self._retry("send_raw_transaction", send)

    def mine(self, timestamp: int) -> int:
        return self.inner.mine(timestamp)

    def set_next_timestamp(self, timestamp: int) -> None:
        setter = getattr(self.inner, "set_next_timestamp", None)
        if setter is not None:
            setter(timestamp)

    def drop_transaction(self, tx_hash: bytes) -> bool:
        return self.inner.drop_transaction(tx_hash)

    def snapshot(self) -> object:
        return self.inner.snapshot()

    def revert(self, snapshot_id: object) -> None:
        self.inner.revert(snapshot_id)

    def close(self) -> None:
        self.inner.close()
