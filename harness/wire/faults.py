"""What the wire proxy can do to a request, and how it decides which request it hits.

Each fault is what a real transport does to the runner, named by where the request got
to. "Forwarded" means the node received and executed it, so its effects exist even
though the answer never arrives intact:

    reset           the connection is reset before forwarding: the node never saw it
    reset_after     forwarded, then the connection is reset: the answer is lost
    timeout         forwarded, the answer is held until the client gives up (a real
                    socket timeout on its side), then the connection is closed
    slow            forwarded, the answer is delayed (less than the client's timeout)
    rpc_error       a JSON-RPC error answer (-32603 internal error), not forwarded: the
                    node refused it (the in-process fault proxy's "error")
    http_5xx        an HTTP 503 from "the load balancer", not forwarded
    http_429        an HTTP 429 with Retry-After, not forwarded
    truncated       forwarded, the answer's headers announce the full body, half of it
                    is sent, then the connection is closed
    duplicate_send  an eth_sendRawTransaction forwarded twice (a load balancer that
                    broadcasts to two nodes); the first or the second answer is returned

Faults are armed for the next N matching requests (`ArmedFault`) or drawn per request
from a seeded schedule (`FaultSchedule`): the same seed and the same request sequence
give the same faults, and nothing here reads a clock.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from harness.vocabulary import WireFault
from harness.wire.methods import FAULTABLE_RPC, SEND_RAW

FORWARDED: frozenset[WireFault] = frozenset({
    WireFault.reset_after, WireFault.timeout, WireFault.slow, WireFault.truncated, WireFault.duplicate_send,
})
"""Faults whose request reaches the node (its effects exist whatever the client sees)."""


class DuplicateAnswer(StrEnum):
    """Which answer a duplicated send returns to the client."""

    first = "first"  # the node's answer to the first delivery (the transaction hash)
    second = "second"  # the answer to the repeat (the node's "already known" error)


def matches(fault: WireFault, targets: frozenset[str] | None, methods: frozenset[str]) -> bool:
    """Whether a fault aimed at `targets` (None: any faultable) hits a request carrying `methods`."""
    if fault == WireFault.duplicate_send and SEND_RAW not in methods:
        return False  # only a broadcast can be delivered twice
    eligible = methods & FAULTABLE_RPC
    return bool(eligible if targets is None else eligible & targets)


@dataclass
class ArmedFault:
    """A fault for the next `remaining` requests that carry one of `targets`."""

    fault: WireFault
    remaining: int
    targets: frozenset[str] | None = None
    answer: DuplicateAnswer = DuplicateAnswer.first

    def take(self, methods: frozenset[str]) -> bool:
        """Consume one use if this request is hit."""
        if self.remaining <= 0 or not matches(self.fault, self.targets, methods):
            return False
        self.remaining -= 1
        return True


@dataclass
class FaultSchedule:
    """Seeded random faults: each faultable request draws one number from its own RNG.

    `rates` maps a fault to its probability per request (their sum at most 1); kinds are
    laid out on [0, 1) in `WireFault` order, so a schedule's meaning does not depend on
    the mapping's order. A draw that lands on `duplicate_send` for a request that is not a
    broadcast injects nothing: every faultable request draws exactly once, so the
    sequence of draws depends only on the seed and the request sequence.
    """

    seed: int
    rates: Mapping[WireFault, float]  # float-ok: probabilities
    draws: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _bounds: tuple[tuple[float, WireFault], ...] = field(init=False, repr=False)  # float-ok

    def __post_init__(self) -> None:
        rates = {WireFault(k): float(v) for k, v in self.rates.items()}  # float-ok: probabilities
        bad = {k: v for k, v in rates.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"fault rates must be probabilities in [0, 1], found {bad}")
        total = sum(rates.values())
        if total > 1.0 + 1e-12:
            raise ValueError(f"fault rates add up to {total}, more than 1")
        acc, bounds = 0.0, []
        for kind in WireFault:
            if rates.get(kind, 0.0) > 0.0:
                acc += rates[kind]
                bounds.append((acc, kind))
        self.rates = rates
        self._bounds = tuple(bounds)
        self._rng = random.Random(self.seed)

    def draw(self, methods: frozenset[str]) -> WireFault | None:
        """The fault for this request, if any (a request with no faultable method draws nothing)."""
        if not methods & FAULTABLE_RPC:
            return None
        self.draws += 1
        u = self._rng.random()
        for bound, kind in self._bounds:
            if u < bound:
                return kind if matches(kind, None, methods) else None
        return None


__all__ = ["FORWARDED", "ArmedFault", "DuplicateAnswer", "FaultSchedule", "WireFault", "matches"]  # WireFault: re-exported
