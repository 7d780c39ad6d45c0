"""What a state file must be before it is believed: intact bytes, and a state that agrees
with itself.

Checksums (written by the segmented store, verified on every load):

* The live file `state.json` is one JSON object whose last member is
  `"sha256":"<64 hex>"`: the SHA-256 of every byte before the `,` that starts it. A byte
  changed anywhere, a cut, or a file from elsewhere fails the comparison.
* Each record of a history segment is a line `{"h":"<32 hex>","r":RECORD}`, where `h` is
  the first 128 bits of SHA-256(h of the previous line + RECORD's bytes), the first line
  chained to a seed made of the segment's name and generation. The live file holds, per
  segment, the committed byte length, the record count and the last line's `h` (the
  tip). So a save hashes only its new records, a changed record is found by its own line
  (the first line whose `h` does not match), and a removed, repeated or reordered record
  breaks the chain or the tip.

Invariants (`verify_state`, after the checksums, on every load): every amount finite (and
within 1e40, to 1e-100);
holdings (and cash plus capital in flight) not negative; dict keys equal to the ids they file; ids unique and below
the state's next-id counters; each trade filed under its own position; each position's
quantity equal to what its successful trades and balance updates add up to (and its
balance-update total and ids equal to the updates booked to it); the in-flight index equal
to the buys that hold reserve capital (started or broadcasted); reserve cash equal to its
recorded movements (reserve-side balance updates, sells in, buys out, capital in flight);
accounting checks numbered 1..n in order; repaired trade ids naming real trades.
A violation raises `StateInvariantError` naming the file and the record.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import types
import typing
from collections.abc import Callable, Iterator
from decimal import Decimal, localcontext
from typing import Any

from runner.money import EXACT
from runner.state.errors import StateDamaged, StateInvariantError
from runner.state.state import State
from runner.state.trade import TradeStatus

# -- the live file's seal ---------------------------------------------------------------
SEAL_KEY = b',"sha256":"'
_SEAL = re.compile(rb',"sha256":"([0-9a-f]{64})"\}\Z')
SEAL_LEN = len(SEAL_KEY) + 64 + 2


def seal(body: bytes) -> bytes:
    """A JSON object's bytes with its checksum as the last member."""
    assert body.endswith(b"}") and len(body) > 2, body[:40]
    head = body[:-1]
    return head + SEAL_KEY + hashlib.sha256(head).hexdigest().encode() + b'"}'


def has_seal(data: bytes) -> bool:
    return _SEAL.search(data[-SEAL_LEN:]) is not None


def check_seal(data: bytes, source: str) -> None:
    """Raise StateDamaged unless the trailing checksum matches every byte before it."""
    m = _SEAL.search(data[-SEAL_LEN:])
    if m is None:
        raise StateDamaged(f"{source}: damaged: its checksum (the last member, \"sha256\") is missing or cut; "
                           "restore the file from a backup or run the scenario again", source)
    head = data[: len(data) - SEAL_LEN]
    if hashlib.sha256(head).hexdigest().encode() != m.group(1):
        raise StateDamaged(f"{source}: damaged: checksum mismatch (the file changed after it was written); "
                           "restore it from a backup or run the scenario again", source)


# -- the segments' record chain -----------------------------------------------------------
LINE_HEAD = b'{"h":"'
LINE_MID = b'","r":'
HASH_HEX = 32
RECORD_AT = len(LINE_HEAD) + HASH_HEX + len(LINE_MID)


def chain_seed(segment: str, generation: int) -> bytes:
    return hashlib.sha256(f"dst-state:{segment}:{generation}".encode()).digest()[:16]


def chain_next(prev: bytes, record: bytes) -> bytes:
    return hashlib.sha256(prev + record).digest()[:16]


def record_line(h: bytes, record: bytes) -> bytes:
    return LINE_HEAD + h.hex().encode() + LINE_MID + record + b"}\n"


def split_record_line(line: bytes) -> tuple[bytes, bytes] | None:
    """(the stored h as hex bytes, the record's bytes), or None if this is not a record line."""
    if (len(line) <= RECORD_AT + 1 or not line.startswith(LINE_HEAD) or line[-1:] != b"}"
            or line[len(LINE_HEAD) + HASH_HEX: RECORD_AT] != LINE_MID):
        return None
    return line[len(LINE_HEAD): len(LINE_HEAD) + HASH_HEX], line[RECORD_AT:-1]


# -- invariants ---------------------------------------------------------------------------
Origin = Callable[[str, int], str]
"""origin(kind, key) -> where that record came from: 'FILE record N' or 'FILE: WHAT'."""

_EXACT = EXACT  # every sum of in-range amounts fits its 200 digits; any rounding raises
def _make_plan(cls: type) -> list[tuple[str, str]]:
    """Per dataclass: its Decimal fields and the fields holding more dataclasses."""
    plan: list[tuple[str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        origin = typing.get_origin(hint)
        if hint is Decimal or (origin in (typing.Union, types.UnionType) and args == [Decimal]):
            plan.append((f.name, "decimal"))
        elif dataclasses.is_dataclass(hint) or origin in (typing.Union, types.UnionType) and len(args) == 1 and dataclasses.is_dataclass(args[0]):
            plan.append((f.name, "object"))
        elif origin is list and args and dataclasses.is_dataclass(args[0]):
            plan.append((f.name, "list"))
        elif origin is dict and len(args) == 2 and dataclasses.is_dataclass(args[1]):
            plan.append((f.name, "dict"))
    return plan


# memoised per class; a functools cache, so the fuzzer's coverage clears it (cache_clear)
# before each run as it does the runner's other memos: a run reaches the same lines
# whatever ran before it in the process
_plan: Callable[[type], list[tuple[str, str]]] = functools.cache(_make_plan)


# Far beyond any amount, price or ratio a state holds (token supplies stay below 1e30,
# 18-decimal quotients below 1e-60), and narrow enough that every sum the checks make is
# exact in their 200-digit context.
MAX_ADJUSTED_EXPONENT = 40
MIN_EXPONENT = -100


def _in_range(value: Decimal) -> bool:
    if not value.is_finite() or value.as_tuple().exponent < MIN_EXPONENT:  # type: ignore[operator]
        return False
    return not value or value.adjusted() <= MAX_ADJUSTED_EXPONENT


def non_finite(obj: Any, path: str = "") -> Iterator[tuple[str, Decimal]]:
    """(field path, value) of every NaN, infinite or absurdly large or fine Decimal
    reachable from a state model."""
    for name, kind in _plan(type(obj)):
        value = getattr(obj, name)
        if value is None:
            continue
        here = f"{path}.{name}" if path else name
        if kind == "decimal":
            if not _in_range(value):
                yield here, value
        elif kind == "object":
            yield from non_finite(value, here)
        elif kind == "list":
            for i, item in enumerate(value):
                yield from non_finite(item, f"{here}[{i}]")
        else:
            for key, item in value.items():
                yield from non_finite(item, f"{here}[{key}]")


def _finite(obj: Any) -> bool:
    """No value `non_finite` would yield: the same walk without its generators and field
    paths (a load checks every record; the paths are built only when one fails)."""
    for name, kind in _plan(type(obj)):
        value = getattr(obj, name)
        if value is None:
            continue
        if kind == "decimal":
            if not _in_range(value):
                return False
        elif kind == "object":
            if not _finite(value):
                return False
        elif kind == "list":
            if not all(map(_finite, value)):
                return False
        elif not all(map(_finite, value.values())):
            return False
    return True


def check_finite(obj: Any, where: str, source: str) -> None:
    if _finite(obj):
        return
    for field_path, value in non_finite(obj):
        shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}...({len(str(value))} characters)"
        raise StateInvariantError(f"{where}: {field_path} is {shown}, not a number an amount can be; "
                                  "restore the file from a backup or run the scenario again", source, where)


@dataclasses.dataclass(frozen=True)
class Verified:
    """History whose amounts this process range-checked when it first read it (a reload
    of a followed state): only the new records' amounts are checked again; every
    cross-check of the state as a whole still runs."""

    stats: int = 0  # leading rows of state.stats
    checks: int = 0  # leading accounting checks
    balance_updates: frozenset[int] = frozenset()
    closed_positions: frozenset[int] = frozenset()


_NOTHING_VERIFIED = Verified()


class _Checker:
    def __init__(self, state: State, origin: Origin, source: str, verified: Verified) -> None:
        self.state = state
        self.origin = origin
        self.source = source
        self.verified = verified

    def fail(self, kind: str, key: int, what: str) -> None:
        where = self.origin(kind, key)
        raise StateInvariantError(f"{where}: {what}; the state contradicts itself: restore it from a backup "
                                  "or run the scenario again", self.source, where)

    def run(self) -> None:
        state, p = self.state, self.state.portfolio
        if not _in_range(p.reserve.quantity):
            self.fail("reserve", 0, f"reserve cash is {p.reserve.quantity}, not a number an amount can be")
        known = self.verified
        for i, stat in enumerate(state.stats[known.stats:], known.stats):
            check_finite(stat, self.origin("stat", i), self.source)
        for i, check in enumerate(state.accounting_checks):
            if i >= known.checks:
                check_finite(check, self.origin("check", i), self.source)
            if check.check_id != i + 1:
                self.fail("check", i, f"accounting check #{check.check_id} is number {i + 1} of the list")
        self._balance_updates()
        self._positions()
        self._reserve()

    def _balance_updates(self) -> None:
        p = self.state.portfolio
        known = self.verified.balance_updates
        for key, bu in p.balance_updates.items():
            if key not in known:
                check_finite(bu, self.origin("balance_update", key), self.source)
            if bu.balance_update_id != key:
                self.fail("balance_update", key, f"balance update #{bu.balance_update_id} filed as #{key}")
            if not 0 < key < p.next_balance_update_id:
                self.fail("balance_update", key, f"balance update #{key} is not below the next id "
                          f"({p.next_balance_update_id})")
            if bu.position_id is not None and bu.position_id not in p.open_positions \
                    and bu.position_id not in p.closed_positions:
                self.fail("balance_update", key, f"balance update #{key} is booked to position #{bu.position_id}, "
                          "which the state does not hold")

    def _positions(self) -> None:
        p = self.state.portfolio
        seen_trades: dict[int, int] = {}
        booked: dict[int, list[int]] = {}
        for bu in p.balance_updates.values():
            if bu.position_id is not None:
                booked.setdefault(bu.position_id, []).append(bu.balance_update_id)
        for group, positions in (("open", p.open_positions), ("closed", p.closed_positions)):
            known = self.verified.closed_positions if group == "closed" else frozenset()
            for key, pos in positions.items():
                if key not in known:
                    check_finite(pos, self.origin("position", key), self.source)
                pid = pos.position_id
                if pid != key:
                    self.fail("position", key, f"position #{pid} filed as #{key}")
                if group == "closed" and pid in p.open_positions:
                    self.fail("position", key, f"position #{pid} is both open and closed")
                if not 0 < pid < p.next_position_id:
                    self.fail("position", key, f"position #{pid} is not below the next id ({p.next_position_id})")
                if pos.quantity < 0:
                    self.fail("position", key, f"position #{pid} ({pos.pair}) holds {pos.quantity} {pos.asset}: "
                              "a holding cannot be negative")
                for tid, trade in pos.trades.items():
                    if trade.trade_id != tid:
                        self.fail("trade", tid, f"trade #{trade.trade_id} filed as #{tid} in position #{pid}")
                    if trade.position_id != pid:
                        self.fail("trade", tid, f"trade #{tid} belongs to position #{trade.position_id} "
                                  f"but is filed in position #{pid}")
                    if tid in seen_trades:
                        self.fail("trade", tid, f"trade #{tid} appears in positions #{seen_trades[tid]} and #{pid}")
                    if not 0 < tid < p.next_trade_id:
                        self.fail("trade", tid, f"trade #{tid} is not below the next id ({p.next_trade_id})")
                    seen_trades[tid] = pid
                with localcontext(_EXACT):
                    traded = sum((t.executed_quantity or Decimal(0) for t in pos.trades.values()
                                  if t.status == TradeStatus.success), Decimal(0))
                    mine = booked.get(pid, [])
                    updates = sum((p.balance_updates[i].quantity for i in mine), Decimal(0))
                    expected = traded + pos.balance_update_total
                if pos.balance_update_total != updates or sorted(pos.balance_update_ids) != sorted(mine):
                    self.fail("position", key, f"position #{pid} records balance updates {pos.balance_update_ids} "
                              f"totalling {pos.balance_update_total}, the updates booked to it are {mine} "
                              f"totalling {updates}")
                if pos.quantity != expected:
                    self.fail("position", key, f"position #{pid} ({pos.pair}) holds {pos.quantity} {pos.asset}, "
                              f"its successful trades and balance updates add up to {expected}")
        for tid in self.state.repaired_trade_ids:
            if tid not in seen_trades:
                self.fail("state", 0, f"repaired_trade_ids names trade #{tid}, which the state does not hold")

    def _reserve(self) -> None:
        p = self.state.portfolio
        holding = {}
        with localcontext(_EXACT):
            cash = sum((bu.quantity for bu in p.balance_updates.values() if bu.position_id is None), Decimal(0))
            for pos in p.all_positions():
                for t in pos.trades.values():
                    if t.is_buy and t.status in (TradeStatus.started, TradeStatus.broadcasted):
                        holding[t.trade_id] = pos.position_id
                        cash -= t.planned_reserve
                    elif t.status == TradeStatus.success and not t.is_repair:
                        executed = t.executed_reserve or Decimal(0)
                        cash += -executed if t.is_buy else executed
        with localcontext(_EXACT):
            held = p.reserve.quantity + sum((p.open_positions.get(pid) or p.closed_positions[pid]).trades[tid]
                                            .planned_reserve for tid, pid in holding.items())
        if held < 0 and not self._reserve_out_of_step():
            # Buys start (their capital leaves the reserve) before the sells that fund them
            # settle, so cash alone may dip below zero while trades are in flight; cash plus
            # the capital in flight never may, unless the books are known to be off the chain.
            self.fail("reserve", 0, f"reserve cash {p.reserve.quantity} {p.reserve.asset} plus capital in flight "
                      f"is {held}: a holding cannot be negative")
        if p.in_flight != holding:
            missing = sorted(set(holding) - set(p.in_flight))
            extra = sorted(set(p.in_flight) - set(holding))
            self.fail("reserve", 0, f"the in-flight index {sorted(p.in_flight)} does not match the buys holding "
                      f"reserve capital {sorted(holding)} (missing {missing}, not holding any {extra})")
        if p.reserve.quantity != cash:
            self.fail("reserve", 0, f"reserve cash is {p.reserve.quantity} {p.reserve.asset}, its recorded movements "
                      f"(reserve balance updates, sells, buys, capital in flight) add up to {cash}")

    def _reserve_out_of_step(self) -> bool:
        """Whether the last accounting check found the reserve's booked cash off the chain's
        balance and left it so (reported, not corrected). Then booked cash may be below zero:
        a vault pays redemptions from what it holds, so a redemption paid from funds the books
        never saw (a transfer in behind the runner's back, under the report policy) takes the
        booked cash under zero while the books still agree with themselves (fuzz seed 11, run
        12: scenarios/regressions/invariant-state-round-trip-s11-r12.yaml). A negative reserve
        nothing flagged is still refused: only a forged or corrupted file has one."""
        checks = self.state.accounting_checks
        if not checks:
            return False
        reserve = self.state.portfolio.reserve.asset
        return any(r.asset == reserve and r.position_id is None and r.verdict == "mismatch" and r.correction_id is None
                   for r in checks[-1].rows)


def verify_state(state: State, origin: Origin, source: str, verified: Verified | None = None) -> None:
    """Raise StateInvariantError (naming origin(kind, key)) unless the state agrees with itself."""
    try:
        _Checker(state, origin, source, verified or _NOTHING_VERIFIED).run()
    except ArithmeticError as exc:  # amounts are range-checked first: a safety net, not a path
        raise StateInvariantError(f"{source}: amounts the checks cannot add up exactly ({type(exc).__name__}); "
                                  "restore the file from a backup or run the scenario again", source) from None


def in_file(path: str) -> Origin:
    """The origin function of a state held in one file."""
    def origin(kind: str, key: int) -> str:
        return f"{path}: {describe(kind, key)}"
    return origin


def describe(kind: str, key: int) -> str:
    """A record of the state in words: 'position #3', 'statistics row 12', 'the reserve'."""
    return {
        "reserve": "the reserve",
        "state": "the state",
        "stat": f"statistics row {key + 1}",
        "check": f"accounting check {key + 1}",
    }.get(kind, f"{kind.replace('_', ' ')} #{key}")


__all__ = [
    "Verified",
    "chain_next",
    "chain_seed",
    "check_finite",
    "check_seal",
    "describe",
    "has_seal",
    "in_file",
    "non_finite",
    "record_line",
    "seal",
    "split_record_line",
    "verify_state",
]
