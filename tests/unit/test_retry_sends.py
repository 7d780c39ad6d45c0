"""The retry policy for broadcasts: what counts as "already sent", per call.

A scripted inner backend answers each attempt in turn, so every branch of the policy is
pinned without a node: a lost answer then "already imported", a duplicated delivery's
"already known" on the first attempt, and a genuine "nonce too low" refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from eth_hash.auto import keccak

from runner.chain.backend import Backend
from runner.chain.errors import NodeError, NodeTimeout, TransactionRejected
from runner.chain.retry import RetryingBackend

RAW = b"\x01signed-bytes"


class Scripted:
    """A backend whose send_raw_transaction plays `script`, one step per attempt."""

    def __init__(self, script: list[Callable[[], Any]]) -> None:
        self.script = list(script)
        self.sends = 0

    def send_raw_transaction(self, raw: bytes) -> bytes:
        self.sends += 1
        return cast(bytes, self.script.pop(0)())


def fail(exc: Exception) -> Callable[[], Any]:
    def step() -> Any:
        raise exc
    return step


def ok() -> bytes:
    return keccak(RAW)


def retrying(*steps: Callable[[], Any]) -> tuple[RetryingBackend, Scripted]:
    inner = Scripted(list(steps))
    return RetryingBackend(cast(Backend, inner)), inner


class TestBroadcastRetries:
    def test_lost_answer_then_already_imported_is_sent(self) -> None:
        """The first answer was lost (timeout); the resend's "already imported" means it was sent."""
        backend, inner = retrying(fail(NodeTimeout("eth_sendRawTransaction", "no answer")),
                                  fail(TransactionRejected("transaction already imported")))
        assert backend.send_raw_transaction(RAW) == keccak(RAW)
        assert inner.sends == 2

    def test_already_known_on_the_first_attempt_is_sent(self) -> None:
        """A load balancer delivered it twice and returned the repeat's answer: still sent, not refused."""
        backend, inner = retrying(fail(TransactionRejected("already known")))
        assert backend.send_raw_transaction(RAW) == keccak(RAW)
        assert inner.sends == 1 and backend.retries == []

    def test_nonce_too_low_after_a_lost_answer_is_sent(self) -> None:
        """Lost answer, then mined meanwhile: "nonce too low" on the resend means ours landed."""
        backend, _ = retrying(fail(NodeError("eth_sendRawTransaction", "reset")),
                              fail(TransactionRejected("nonce too low")))
        assert backend.send_raw_transaction(RAW) == keccak(RAW)

    def test_nonce_too_low_on_a_first_attempt_is_refused_whatever_came_before(self) -> None:
        """An earlier broadcast's retry in the history must not turn this one's refusal into success."""
        backend, _ = retrying(fail(NodeError("eth_sendRawTransaction", "reset")), ok,
                              fail(TransactionRejected("nonce too low")))
        assert backend.send_raw_transaction(RAW) == keccak(RAW)  # the earlier broadcast, retried once
        with pytest.raises(TransactionRejected, match="nonce too low"):
            backend.send_raw_transaction(b"\x02other-bytes")

    def test_other_refusals_are_refusals(self) -> None:
        """Insufficient funds is the node's answer: raised at once, never retried."""
        backend, inner = retrying(fail(TransactionRejected("insufficient funds for gas * price + value")))
        with pytest.raises(TransactionRejected, match="insufficient funds"):
            backend.send_raw_transaction(RAW)
        assert inner.sends == 1
