"""`expect` entries: assertions a scenario author writes without Python.

Each is evaluated at its instant, after that instant's events and tick, against the
state and what the run has recorded so far. A failure names the entry's file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.scenario.model import (
    AccountingExpectation,
    BalanceUpdateExpectation,
    ErrorExpectation,
    NavExpectation,
    PositionExpectation,
    TradeExpectation,
)
from runner.state import State, TradingPosition
from runner.universe import Universe

if TYPE_CHECKING:
    from harness.engine import RunResult


SEVERITY = {"ok": 0, "dust": 1, "mismatch": 2}


@dataclass
class ExpectationResult:
    line: int
    kind: str
    at: datetime
    passed: bool
    message: str


def _latest_position(state: State, pair: str) -> TradingPosition | None:
    positions = [p for p in state.portfolio.all_positions() if p.pair == pair]
    return max(positions, key=lambda p: p.position_id) if positions else None


def _check(exp: Any, ts: datetime, state: State, result: RunResult, universe: Universe) -> tuple[bool, str]:
    if isinstance(exp, PositionExpectation):
        pos = _latest_position(state, exp.pair)
        if pos is None:
            return False, f"no position in {exp.pair} was ever opened"
        actual = pos.state
        if exp.state is not None and actual != exp.state:
            return False, f"position #{pos.position_id} {exp.pair} is {actual}, expected {exp.state}"
        if exp.closed_by is not None and pos.closed_by != exp.closed_by:
            return False, f"position #{pos.position_id} {exp.pair} closed_by={pos.closed_by}, expected {exp.closed_by}"
        return True, f"position #{pos.position_id} {exp.pair} {actual}" + (f" by {pos.closed_by}" if pos.closed_by else "")
    if isinstance(exp, AccountingExpectation):
        # The instant's outcome is the worst verdict of every check run at it (start,
        # restart, post-execution), for the asset if one is named: "ok" means all were ok.
        checks = [c for c in state.accounting_checks if c.timestamp == ts]
        if not checks:
            return False, "no accounting check ran at this time"
        rows = [(c, r) for c in checks for r in c.rows if exp.asset is None or r.asset == exp.asset]
        if not rows:
            return False, f"no accounting row for {exp.asset} at this time"
        worst_c, worst_r = max(rows, key=lambda cr: SEVERITY[cr[1].verdict.value])
        seen = "; ".join(
            f"#{c.check_id} {c.kind}: " + ", ".join(f"{r.asset}={r.verdict.value}" for r in c.rows
                                                    if exp.asset is None or r.asset == exp.asset)
            for c in checks
        )
        if worst_r.verdict.value == exp.outcome:
            return True, f"worst verdict {worst_r.verdict.value} ({seen})"
        return False, f"expected {exp.outcome} for {exp.asset or 'the checks'}, the worst was {worst_r.verdict.value}: {seen}"
    if isinstance(exp, TradeExpectation):
        trades = [
            t for t in state.portfolio.all_trades()
            if (exp.pair is None or t.pair == exp.pair) and not t.is_repair
            and ts in (t.opened_at, t.executed_at, t.failed_at, t.repaired_at)
        ]
        for t in trades:
            if t.status.value == exp.status and (exp.reason is None or exp.reason in (t.failure_reason or "")):
                return True, f"trade #{t.trade_id} {t.pair} {t.status.value}" + (f": {t.failure_reason}" if t.failure_reason else "")
        seen = ", ".join(f"#{t.trade_id} {t.status.value} ({t.failure_reason})" for t in trades) or "no trades"
        return False, f"expected a {exp.status} trade" + (f" with reason containing {exp.reason!r}" if exp.reason else "") + f", saw {seen}"
    if isinstance(exp, NavExpectation):
        nav = state.portfolio.nav()
        if exp.min is not None and nav < exp.min:
            return False, f"NAV {nav} is below {exp.min}"
        if exp.max is not None and nav > exp.max:
            return False, f"NAV {nav} is above {exp.max}"
        return True, f"NAV {nav}"
    if isinstance(exp, BalanceUpdateExpectation):
        for bu in state.portfolio.balance_updates.values():
            if bu.timestamp == ts and bu.cause.value == exp.cause and (exp.asset is None or bu.asset == exp.asset):
                return True, f"balance update #{bu.balance_update_id} {bu.cause.value} {bu.asset} {bu.quantity}"
        return False, f"no {exp.cause} balance update" + (f" of {exp.asset}" if exp.asset else "") + " at this time"
    if isinstance(exp, ErrorExpectation):
        if result.error and exp.contains in result.error:
            return True, f"run stopped: {result.error_kind}"
        return False, f"expected the run to stop with an error containing {exp.contains!r}, error: {result.error}"
    raise TypeError(f"no evaluator for {type(exp).__name__}")


def evaluate(exp: Any, ts: datetime, state: State, result: RunResult, universe: Universe) -> ExpectationResult:
    passed, message = _check(exp, ts, state, result, universe)
    return ExpectationResult(line=exp.line, kind=exp.kind, at=ts, passed=passed, message=message)
