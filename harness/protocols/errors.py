"""Errors of protocol deployment and protocol actions, each naming what was done where.

    ProtocolError(HarnessError)
     +-- DeploymentFailed       a contract's creation reverted or left no contract behind
     +-- ProtocolActionFailed   a set-up or harness transaction reverted (carries the reason)
     +-- UnexpectedChainState   the chain holds something other than what was deployed
"""

from __future__ import annotations

from harness.errors import HarnessError


class ProtocolError(HarnessError):
    """Root of every protocol-layer failure."""


class DeploymentFailed(ProtocolError):
    """Creating `contract` (at the predicted `address`) reverted or ran out of gas."""

    def __init__(self, contract: str, address: bytes, reason: str) -> None:
        self.contract = contract
        self.address = address
        self.reason = reason
        super().__init__(f"deploying {contract} at 0x{address.hex()} failed: {reason}")


class ProtocolActionFailed(ProtocolError):
    """A transaction of the harness (`action`, sent to `to`) reverted."""

    def __init__(self, action: str, to: bytes | None, reason: str) -> None:
        self.action = action
        self.to = to
        self.reason = reason
        where = f" (to 0x{to.hex()})" if to else ""
        super().__init__(f"{action}{where} failed: {reason}")


class UnexpectedChainState(ProtocolError):
    """A read found something else than what the deployment promised (a wrong address,
    an unexpected token order, a pool missing from its factory)."""
