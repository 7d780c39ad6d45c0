"""Retrying what is safe to retry, and only that.

Reads are idempotent: a failed read is asked again (up to `attempts` times, with no
sleep: time belongs to the scenario clock; a live deployment would put its back-off in
`on_retry`). A broadcast is safe to repeat because it is the same signed bytes: a node
that already has it answers "already known" or "nonce too low", which means it was sent.
Everything else (mining, snapshots, drops) is the node's business and passes through
unretried. Every retry is counted and remembered, so the outcome can be shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from eth_hash.auto import keccak

from runner.chain.backend import Backend
from runner.chain.errors import NodeError, TransactionRejected
from runner.chain.methods import READS, RESENDABLE, NodeMethod
from runner.chain.proxy import BackendProxy

T = TypeVar("T")
ALREADY_SENT = ("already known", "nonce too low", "already imported", "known transaction")


class RetryingBackend(BackendProxy):
    """A backend proxy that retries idempotent requests on node errors."""

    def __init__(self, inner: Backend, attempts: int = 4,
                 on_retry: Callable[[str, NodeError], None] | None = None) -> None:
        super().__init__(inner)
        self.attempts = attempts
        self.on_retry = on_retry
        self.retries: list[str] = []

    def _request(self, method: NodeMethod, thunk: Callable[[], T]) -> T:
        if method not in READS and method not in RESENDABLE:
            return thunk()
        last: NodeError | None = None
        for _ in range(self.attempts):
            try:
                return thunk()
            except NodeError as exc:
                last = exc
                self.retries.append(f"{method}: {type(exc).__name__}: {exc.message}")
                if self.on_retry is not None:
                    self.on_retry(method, exc)
        assert last is not None
        raise last

    def send_raw_transaction(self, raw: bytes) -> bytes:
        def send() -> bytes:
            try:
                return self.inner.send_raw_transaction(raw)
            except TransactionRejected as exc:
                resent = self.retries and self.retries[-1].startswith(NodeMethod.send_raw_transaction)
                if resent and any(s in exc.message.lower() for s in ALREADY_SENT):
                    return keccak(raw)  # an earlier attempt reached the node
                raise
        return self._request(NodeMethod.send_raw_transaction, send)


__all__ = ["ALREADY_SENT", "RetryingBackend"]
