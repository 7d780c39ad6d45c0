"""Money arithmetic: exact in the books, rounded only where a value is estimated.

Python's default decimal context keeps 28 significant digits and rounds, silently, every
result longer than that: sums and differences, and even `-x` and `abs(x)`. Token amounts
are longer. A 24-decimal token's amounts above 10,000 tokens take 29 digits or more, and
so do 2**96 base units (the scenarios' bound) at 18 decimals. Books kept in the default
context drift from their own entries: fuzz seed 1, run 81 held 10853.59587281566302079925869
MKR in a position whose trades add up to 10853.595872815663020799258690...
(scenarios/regressions/crash-stateinvarianterror-s1-r81.yaml).

Three contexts, each pinned where it applies (never the caller's):

* `EXACT`: the books. 200 digits, which hold every sum of amounts the state admits (within
  1e40, to 1e-100: runner/state/integrity.py) and every product of one with a price; and
  Inexact is trapped, so an operation that would round raises instead of rounding.
* `ROUNDED`: the 28 digits (the default's) that estimates were always computed in: prices,
  slippage, a sell's pro-rata cost and the P&L it moves, tolerances, trigger levels, a
  holding's value at its valuation price. An estimate keeps exactly the value it had; an
  estimate made inside the books says so, `with rounded():`.
* `WIDE`: 200 digits that may round, for a deliberate rounding to a unit (`floor`) and for
  a checker's divisions whose rounding must not matter (the harness's NAV per share).

How the books get EXACT without anyone remembering it: `@books` on a class runs every
method written in its body in EXACT (Portfolio, the positions, Token's unit conversions,
PositionManager, the sync and execution models), on a function runs that function in
EXACT (the repair's and the accounting check's bookings; the harness registers every
invariant through it). `@estimates` does the same with ROUNDED (the pricing model). A method added later to a class of the books is exact by default; a
division added to the books without `rounded()` raises Inexact the first time it runs,
instead of changing a price somewhere in a snapshot. A product needs the same thought:
exact is right for an amount and for a comparison, but a price is a rounded quotient,
and a value the state records from one (quantity x valuation price, rounded down to the
unit) is the estimate it always was only in ROUNDED: exactly, it lands a hair under the
quote's proceeds half the time, and a unit under once rounded down.

Why not quantize to base units at the boundary: the rounding is in the additions
themselves, after the boundary (two exact 24-decimal amounts add up to a rounded one).
Why not integer base units: every amount in the state, every strategy and the state
format are token units; an int mixed with a Decimal is Decimal arithmetic again, in
whatever context is current. Pinning the context where the arithmetic is keeps both.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any, TypeVar

PRECISION = 200
"""Digits of EXACT and WIDE: the integrity check's amounts (adjusted exponent at most 40,
exponent at least -100) add up within 141 digits, and a product with a 28-digit price
within 170."""

EXACT = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
ROUNDED = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
WIDE = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])

_T = TypeVar("_T")


def exact() -> Any:
    """`with exact():` sums, differences, negations and products that must not round
    (any rounding raises decimal.Inexact)."""
    return localcontext(EXACT)


def rounded() -> Any:
    """`with rounded():` an estimate, in the 28 digits estimates were always made in."""
    return localcontext(ROUNDED)


def wide() -> Any:
    """`with wide():` a division or quantization whose rounding, at the 200th digit,
    cannot matter."""
    return localcontext(WIDE)


def total(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of `values`."""
    with localcontext(EXACT):
        return sum(values, Decimal(0))


def floor(amount: Decimal, unit: Decimal) -> Decimal:
    """`amount` rounded down to a multiple of `unit` (a token's base unit), however many
    digits it has: the default context refuses (InvalidOperation) past 28."""
    with localcontext(WIDE):
        return amount.quantize(unit, rounding=ROUND_DOWN)


def _pinned_function(fn: Callable[..., Any], context: Context) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            # each step of the generator in the context, the consumer's code in its own
            it = fn(*args, **kwargs)
            while True:
                with localcontext(context):
                    try:
                        item = next(it)
                    except StopIteration as stop:
                        return stop.value
                yield item

        generator.__pinned__ = context  # type: ignore[attr-defined]
        return generator

    @functools.wraps(fn)
    def pinned(*args: Any, **kwargs: Any) -> Any:
        with localcontext(context):
            return fn(*args, **kwargs)

    pinned.__pinned__ = context  # type: ignore[attr-defined]
    return pinned


def _pin(obj: _T, context: Context) -> _T:
    if not isinstance(obj, type):
        return _pinned_function(obj, context)  # type: ignore[arg-type, return-value]
    for name, member in list(vars(obj).items()):
        if name.startswith("__") and name.endswith("__"):
            continue  # dataclass machinery (init, eq, repr): no arithmetic
        if isinstance(member, property):
            setattr(obj, name, property(
                _pinned_function(member.fget, context) if member.fget else None,
                _pinned_function(member.fset, context) if member.fset else None,
                member.fdel, member.__doc__))
        elif isinstance(member, staticmethod | classmethod):
            setattr(obj, name, type(member)(_pinned_function(member.__func__, context)))
        elif isinstance(member, functools.cached_property):
            cached = functools.cached_property(_pinned_function(member.func, context))
            cached.__set_name__(obj, name)
            setattr(obj, name, cached)
        elif inspect.isfunction(member):
            setattr(obj, name, _pinned_function(member, context))
    return obj


def books(obj: _T) -> _T:
    """Run a function, or every method written in a class's body, in EXACT."""
    return _pin(obj, EXACT)


def estimates(obj: _T) -> _T:
    """Run a function, or every method written in a class's body, in ROUNDED."""
    return _pin(obj, ROUNDED)


def pinned_to(fn: Any) -> Context | None:
    """The context `fn` (a function, method or property) was pinned to, if any."""
    if isinstance(fn, property):
        fn = fn.fget
    elif isinstance(fn, functools.cached_property):
        fn = fn.func
    elif isinstance(fn, staticmethod | classmethod):
        fn = fn.__func__
    return getattr(fn, "__pinned__", None)


__all__ = [
    "EXACT",
    "PRECISION",
    "ROUNDED",
    "WIDE",
    "books",
    "estimates",
    "exact",
    "floor",
    "pinned_to",
    "rounded",
    "total",
    "wide",
]
