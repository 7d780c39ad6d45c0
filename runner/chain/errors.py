"""Errors raised by the chain layer.

    ChainError(RuntimeError)
     +-- CallReverted          an eth_call reverted (carries the decoded reason)
     +-- TransactionRejected   the node refused a transaction at broadcast (bad nonce, funds)
     +-- TransactionPending    a transaction that had to land was not mined (blocks stalled)
     +-- NodeError             the node answered a JSON-RPC error or could not be reached
     |    +-- NodeTimeout      no answer within the deadline: the outcome is unknown
     +-- Unsupported           this backend cannot do that (a dev-chain ability a node lacks)
"""

from __future__ import annotations


class ChainError(RuntimeError):
    """Base of every chain-layer failure."""


class CallReverted(ChainError):
    def __init__(self, reason: str | None, data: bytes = b"") -> None:
        self.reason = reason
        self.data = data
        super().__init__(f"call reverted: {reason or '(no reason)'}")


class TransactionRejected(ChainError):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"transaction rejected by the node: {message}")


class TransactionPending(ChainError):
    """A send-and-wait found no receipt: the node holds the transaction, unmined (blocks
    are not being produced). Raised only where a transaction must land before the caller
    can go on (`ChainClient.transact`, `send_as`); the runner's own transactions never
    wait like that, they are left pending and resolved at a later cycle."""

    def __init__(self, tx_hash: bytes, what: str = "transaction") -> None:
        self.tx_hash = tx_hash
        super().__init__(f"{what} 0x{tx_hash.hex()} still pending: no block was produced (automine off)")


class NodeError(ChainError):
    def __init__(self, method: str, message: str, code: int | None = None) -> None:
        self.method = method
        self.code = code
        self.message = message
        super().__init__(f"{method}: {message}" + (f" (code {code})" if code is not None else ""))


class NodeTimeout(NodeError):
    """The request may or may not have reached the node: never assume either."""


class Unsupported(ChainError):
    """A development-chain ability this backend does not have (impersonation on the
    embedded chain, mining on a production node...). Callers catch this one error
    instead of probing backends for methods."""

    def __init__(self, backend: str, ability: str, hint: str = "") -> None:
        self.backend = backend
        self.ability = ability
        self.hint = hint
        super().__init__(f"{backend} cannot {ability}" + (f": {hint}" if hint else ""))
