"""Errors raised by the chain layer.

    ChainError(RuntimeError)
     +-- CallReverted          an eth_call reverted (carries the decoded reason)
     +-- TransactionRejected   the node refused a transaction at broadcast (bad nonce, funds)
     +-- NodeError             the node answered a JSON-RPC error or could not be reached
          +-- NodeTimeout      no answer within the deadline: the outcome is unknown
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


class NodeError(ChainError):
    def __init__(self, method: str, message: str, code: int | None = None) -> None:
        self.method = method
        self.code = code
        self.message = message
        super().__init__(f"{method}: {message}" + (f" (code {code})" if code is not None else ""))


class NodeTimeout(NodeError):
    """The request may or may not have reached the node: never assume either."""
