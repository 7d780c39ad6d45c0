"""Every random choice of a campaign, drawn from its seed and nothing else.

A run's seed derives from the campaign seed and the run's index alone:

    run_seed(S, K) = first 8 bytes (big-endian) of SHA-256(b"dst-fuzz/run/" + S + b"/" + K)

so run K is the same on every machine, whatever the worker count or the order in which
runs finish, and can be replayed without running 0..K-1. Inside a run, `Draw` is a
SplitMix64 stream: integer arithmetic only (no floats, no platform-dependent library
generator), so money drawn from it is exact (ints and Decimals) and identical everywhere.
Sub-streams (`Draw.fork(label)`) keep one part of a run's drawing (its universe, say)
from shifting when another part draws more or less.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeVar

T = TypeVar("T")

_MASK = (1 << 64) - 1


def derive(*labels: object) -> int:
    """A 64-bit seed from labels (ints and strings), the same on every machine."""
    text = "/".join(str(label) for label in labels).encode()
    return int.from_bytes(hashlib.sha256(b"dst-fuzz/" + text).digest()[:8], "big")


def run_seed(campaign_seed: int, run: int) -> int:
    """Run K's seed: a pure function of the campaign seed and K (see the module doc)."""
    return derive("run", campaign_seed, run)


class Draw:
    """A deterministic stream of integers, choices and exact decimals (SplitMix64)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed & _MASK
        self._state = self.seed
        self.count = 0

    def fork(self, label: str) -> Draw:
        """An independent stream for one part of the drawing."""
        return Draw(derive("fork", self.seed, label))

    def _next(self) -> int:
        self.count += 1
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """Uniform in [0, n), unbiased (rejection sampling)."""
        if n <= 0:
            raise ValueError(f"expected a positive bound, found {n}")
        if n == 1:
            return 0
        bits = (n - 1).bit_length()
        while True:
            value = 0
            for _ in range((bits + 63) // 64):
                value = (value << 64) | self._next()
            value >>= (-bits) % 64
            if value < n:
                return value

    def integer(self, low: int, high: int) -> int:
        """Uniform in [low, high], both included."""
        if high < low:
            raise ValueError(f"empty range [{low}, {high}]")
        return low + self.below(high - low + 1)

    def chance(self, numerator: int, denominator: int = 100) -> bool:
        """True with probability numerator/denominator, exactly."""
        return self.below(denominator) < numerator

    def choice(self, items: Sequence[T]) -> T:
        if not items:
            raise ValueError("a choice among nothing")
        return items[self.below(len(items))]

    def weighted(self, weights: Mapping[str, int]) -> str:
        """A key drawn with integer weights, in sorted key order (no dict order leaks in)."""
        keys = sorted(k for k, w in weights.items() if w > 0)
        if not keys:
            raise ValueError("a weighted choice among nothing (every weight is 0)")
        ticket = self.below(sum(weights[k] for k in keys))
        for key in keys:
            ticket -= weights[key]
            if ticket < 0:
                return key
        raise AssertionError("unreachable")

    def decimal(self, low: Decimal, high: Decimal, places: int) -> Decimal:
        """Uniform on the grid of `places` decimals within [low, high]."""
        scale = Decimal(10) ** places
        lo, hi = int((low * scale).to_integral_value(rounding="ROUND_CEILING")), int(
            (high * scale).to_integral_value(rounding="ROUND_FLOOR"))
        return Decimal(self.integer(lo, hi)) / scale

    def magnitude(self, low: Decimal, high: Decimal, digits: int = 2) -> Decimal:
        """Log-uniform-ish in [low, high]: a power of ten, then `digits` significant digits,
        so prices and depths span orders of magnitude as real ones do."""
        lo_exp, hi_exp = low.adjusted(), high.adjusted()
        exponent = self.integer(lo_exp, hi_exp)
        mantissa = self.integer(10 ** (digits - 1), 10**digits - 1)
        value = Decimal(mantissa).scaleb(exponent - digits + 1)
        return min(max(value, low), high)

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        """k distinct items, in the order drawn."""
        pool = list(items)
        out = []
        for _ in range(min(k, len(pool))):
            out.append(pool.pop(self.below(len(pool))))
        return out


__all__ = ["Draw", "derive", "run_seed"]
