"""Retrying what is safe to retry, and only that.

Reads are idempotent: a failed read is asked again (up to `attempts` times, with no
sleep: time belongs to the scenario clock; a live deployment would put its back-off in
`on_retry`). A broadcast is safe to repeat because it is the same signed bytes. A node that
already holds exactly these bytes says so ("already known", "already imported"): that
means sent, on any attempt, since a load balancer may deliver the first attempt twice.
"nonce too low" only means that *some* transaction used the nonce: it is taken for
"sent" only when an earlier attempt of this same broadcast may have reached the node
(its answer was lost); on a first attempt it is the node's rejection.
Everything else (mining, snapshots, drops) is the node's business and passes through
unretried. Every retry is counted and remembered, so the outcome can be shown.

What is remembered, and what is raised once the attempts are used up, names the
request by its `NodeMethod` and says only what the node said: an error's message, or
that no answer came. So the same fault reads the same whether it was injected in this
process or met on a real wire (where the transport names the JSON-RPC method and its
own timeout): a run's record does not depend on where its runner ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from eth_hash.auto import keccak

from runner.chain.backend import Backend
from runner.chain.errors import NodeError, NodeTimeout, TransactionRejected
from runner.chain.methods import READS, RESENDABLE, NodeMethod
from runner.chain.proxy import BackendProxy

T = TypeVar("T")
KNOWN_TX = ("already known", "already imported", "known transaction")
"""The node holds these very bytes (the same hash): sent, whatever the attempt."""
NONCE_USED = ("nonce too low",)
"""Some transaction used this nonce: ours only if an earlier attempt may have landed."""
ALREADY_SENT = KNOWN_TX + NONCE_USED


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
                last = as_node_error(method, exc)
                self.retries.append(describe(last))
                if self.on_retry is not None:
                    self.on_retry(method, last)
        assert last is not None
        raise last

    def send_raw_transaction(self, raw: bytes) -> bytes:
        # Per call, not the run's retry history: a lost answer to an earlier broadcast
        # must not make this one's "nonce too low" look like success.
        attempts = 0

        def send() -> bytes:
            nonlocal attempts
            attempts += 1
            try:
                return self.inner.send_raw_transaction(raw)
            except TransactionRejected as exc:
                message = exc.message.lower()
                if any(s in message for s in KNOWN_TX):
                    return keccak(raw)  # the node has these bytes: an earlier delivery reached it
                if attempts > 1 and any(s in message for s in NONCE_USED):
                    return keccak(raw)  # an earlier attempt of this broadcast was mined meanwhile
                raise
        return self._request(NodeMethod.send_raw_transaction, send)


def as_node_error(method: NodeMethod, exc: NodeError) -> NodeError:
    """The failure as the runner's policy sees it: which request, and what the node said."""
    if isinstance(exc, NodeTimeout):
        return NodeTimeout(method, NO_ANSWER)
    return NodeError(method, exc.message, exc.code)


def describe(exc: NodeError) -> str:
    """One retry, as the run records it."""
    return f"{exc.method}: {type(exc).__name__}: {exc.message}"


NO_ANSWER = "no answer"


__all__ = ["ALREADY_SENT", "KNOWN_TX", "NONCE_USED", "NO_ANSWER", "RetryingBackend", "as_node_error", "describe"]
