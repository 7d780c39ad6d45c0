"""`expect` entries: assertions a scenario author writes without Python.

Each is evaluated at its instant, after that instant's events and tick, against the
state and what the run has recorded so far. A failure names the entry's file and line.
One evaluator per expectation type, registered on the type (as events are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import singledispatch

from harness.result import ExpectationResult, RunResult
from harness.scenario.model import (
    AccountingExpectation,
    BalanceUpdateExpectation,
    ErrorExpectation,
    Expectation,
    NavExpectation,
    PositionExpectation,
    TradeExpectation,
    ViolationExpectation,
    WithdrawalExpectation,
)
from runner.state import State, TradingPosition, Verdict

SEVERITY = {Verdict.ok: 0, Verdict.dust: 1, Verdict.mismatch: 2}


@dataclass(frozen=True)
class Observed:
    """What an expectation may look at: the instant, the state, the run so far."""

    at: datetime
    state: State
    result: RunResult


def _latest_position(state: State, pair: str) -> TradingPosition | None:
    positions = [p for p in state.portfolio.all_positions() if p.pair == pair]
    return max(positions, key=lambda p: p.position_id) if positions else None


@singledispatch
def check(exp: Expectation, seen: Observed) -> tuple[bool, str]:
    """(passed, message) for one expectation."""
    raise TypeError(f"no evaluator for {type(exp).__name__}")


@check.register
def _position(exp: PositionExpectation, seen: Observed) -> tuple[bool, str]:
    pos = _latest_position(seen.state, exp.pair)
    if pos is None:
        return False, f"no position in {exp.pair} was ever opened"
    actual = pos.state
    if exp.state is not None and actual != exp.state:
        return False, f"position #{pos.position_id} {exp.pair} is {actual}, expected {exp.state}"
    if exp.closed_by is not None and pos.closed_by != exp.closed_by:
        return False, f"position #{pos.position_id} {exp.pair} closed_by={pos.closed_by}, expected {exp.closed_by}"
    return True, f"position #{pos.position_id} {exp.pair} {actual}" + (f" by {pos.closed_by}" if pos.closed_by else "")


@check.register
def _accounting(exp: AccountingExpectation, seen: Observed) -> tuple[bool, str]:
    # The instant's outcome is the worst verdict of every check run at it (start,
    # restart, post-execution), for the asset if one is named: "ok" means all were ok.
    checks = [c for c in seen.state.accounting_checks if c.timestamp == seen.at]
    if not checks:
        return False, "no accounting check ran at this time"
    rows = [(c, r) for c in checks for r in c.rows if exp.asset is None or r.asset == exp.asset]
    if not rows:
        return False, f"no accounting row for {exp.asset} at this time"
    _worst_c, worst_r = max(rows, key=lambda cr: SEVERITY[cr[1].verdict])
    shown = "; ".join(
        f"#{c.check_id} {c.kind}: " + ", ".join(f"{r.asset}={r.verdict.value}" for r in c.rows
                                                if exp.asset is None or r.asset == exp.asset)
        for c in checks
    )
    if worst_r.verdict == exp.outcome:
        return True, f"worst verdict {worst_r.verdict.value} ({shown})"
    return False, f"expected {exp.outcome} for {exp.asset or 'the checks'}, the worst was {worst_r.verdict.value}: {shown}"


@check.register
def _trade(exp: TradeExpectation, seen: Observed) -> tuple[bool, str]:
    trades = [
        t for t in seen.state.portfolio.all_trades()
        if (exp.pair is None or t.pair == exp.pair) and not t.is_repair
        and seen.at in (t.opened_at, t.executed_at, t.failed_at, t.repaired_at)
    ]
    for t in trades:
        if t.status == exp.status and (exp.reason is None or exp.reason in (t.failure_reason or "")):
            return True, f"trade #{t.trade_id} {t.pair} {t.status.value}" + (f": {t.failure_reason}" if t.failure_reason else "")
    shown = ", ".join(f"#{t.trade_id} {t.status.value} ({t.failure_reason})" for t in trades) or "no trades"
    wanted = f"expected a {exp.status} trade" + (f" with reason containing {exp.reason!r}" if exp.reason else "")
    return False, f"{wanted}, saw {shown}"


@check.register
def _nav(exp: NavExpectation, seen: Observed) -> tuple[bool, str]:
    nav = seen.state.portfolio.nav()
    if exp.min is not None and nav < exp.min:
        return False, f"NAV {nav} is below {exp.min}"
    if exp.max is not None and nav > exp.max:
        return False, f"NAV {nav} is above {exp.max}"
    return True, f"NAV {nav}"


@check.register
def _balance_update(exp: BalanceUpdateExpectation, seen: Observed) -> tuple[bool, str]:
    for bu in seen.state.portfolio.balance_updates.values():
        if bu.timestamp == seen.at and bu.cause == exp.cause and (exp.asset is None or bu.asset == exp.asset):
            return True, f"balance update #{bu.balance_update_id} {bu.cause.value} {bu.asset} {bu.quantity}"
    return False, f"no {exp.cause} balance update" + (f" of {exp.asset}" if exp.asset else "") + " at this time"


@check.register
def _error(exp: ErrorExpectation, seen: Observed) -> tuple[bool, str]:
    result = seen.result
    if result.error and exp.contains in result.error:
        return True, f"run stopped: {result.error_kind}"
    return False, f"expected the run to stop with an error containing {exp.contains!r}, error: {result.error}"


@check.register
def _violation(exp: ViolationExpectation, seen: Observed) -> tuple[bool, str]:
    found = [v for v in seen.result.violations if v.time == seen.at and v.invariant == exp.invariant]
    if found:
        return True, f"{exp.invariant}: {found[0].detail}"
    here = sorted({v.invariant for v in seen.result.violations if v.time == seen.at})
    return False, f"{exp.invariant}: expected a violation, found " + (", ".join(here) if here else "none at this time")


@check.register
def _withdrawal(exp: WithdrawalExpectation, seen: Observed) -> tuple[bool, str]:
    here = [w for w in seen.result.withdrawals if w.at == seen.at and exp.by in (None, w.by)]
    who = f" by {exp.by}" if exp.by else ""
    if not here:
        return False, f"expected a withdrawal{who} {exp.status} at this instant, found no withdrawal{who}"
    last = here[-1]
    said = f"withdrawal by {last.by} {last.status}" + (f" ({last.reason})" if last.reason else "")
    return last.status == exp.status, said if last.status == exp.status else f"expected {exp.status}, found {said}"


def evaluate(exp: Expectation, seen: Observed) -> ExpectationResult:
    passed, message = check(exp, seen)
    return ExpectationResult(line=exp.line, kind=exp.kind, at=seen.at, passed=passed, message=message)


__all__ = ["SEVERITY", "Observed", "check", "evaluate"]
