"""From a run (or a bare state file) to the Report: tables taken from the state as recorded."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from harness.audit.compare import explain_stop
from harness.audit.model import ChainAudit
from harness.report.events import build_events
from harness.report.model import (
    CheckRow,
    CheckTable,
    ExpectationRow,
    LedgerRow,
    MovementRow,
    NavRow,
    RepairRow,
    Report,
    StatPoint,
    SummaryItem,
    TradeRow,
    ViolationRow,
    plain,
)
from harness.report.reconcile import reconcile
from runner.accounting import SHARES
from runner.state import BalanceUpdateCause, State, TradeExecution, TradeStatus

if TYPE_CHECKING:
    from harness.result import RunResult

SETTLED_BY_REPAIR = "settled by repair from its receipt"
NO_CHAIN = ("a state file alone has no chain to read: run `harness report STATE --rpc URL --scenario FILE` "
            "against a node that has the run's chain to build it")


def build_report(result: RunResult) -> Report:
    """The report of a run: the state plus what only the run knows (scenario, checks of expectations)."""
    audit = explain_stop(result.audit, result.error) if result.audit is not None else None
    report = build_report_from_state(result.state, result.scenario.name, audit=audit, with_summary=False)
    if audit is None:
        report.audit_unavailable = "the run recorded no chain audit"
    report.description = " ".join(result.scenario.description.split()) or None
    report.source = "run"
    report.fingerprint = result.fingerprint()
    report.backend = result.backend
    report.seed = result.seed
    report.error = result.error
    report.crashes = result.crashes
    report.node_errors = result.node_errors
    report.retries = len(result.retries)
    report.expectations = [
        ExpectationRow(e.line, e.kind, e.at, e.passed, e.message) for e in result.expectations
    ]
    u = result.scenario.universe
    report.asset_decimals.update({sym: t.decimals for sym, t in u.tokens.items()})
    report.nav = [NavRow(p.time, p.block, p.ledger_nav, p.chain_nav) for p in result.chain_nav]
    unexpected = result.unexpected_violations
    report.violations = [
        ViolationRow(n, v.invariant, v.at, v.time, v.block, v.expected, v.found, v.detail, v not in unexpected)
        for n, v in enumerate(result.violations, 1)
    ]
    recorded = _recorded(result.state) + [(p.time, p.block) for p in result.chain_nav] + \
        [(v.time, v.block) for v in result.violations]
    report.timeline = build_events(result, audit, recorded)
    report.summary = summarise(report)
    return report


def _recorded(state: State) -> list[tuple[datetime, int]]:
    """(time, block) pairs the state records: where the chain stood at each instant."""
    out: list[tuple[datetime, int]] = [(c.timestamp, c.block_number) for c in state.accounting_checks]
    out += [(b.timestamp, b.block_number) for b in state.portfolio.balance_updates.values()
            if b.cause != BalanceUpdateCause.correction]
    for t in state.portfolio.all_trades():
        when = t.executed_at or t.failed_at
        for tx in t.blockchain_transactions:
            if when is not None and tx.block_number is not None:
                out.append((when, tx.block_number))
    return out


def _asset_decimals(state: State) -> dict[str, int]:
    """Decimals per asset as far as a state file tells: the reserve's own, the vault's
    shares (the reserve's), and for a token the most places any of its amounts has."""
    reserve = state.portfolio.reserve
    out = {reserve.asset: reserve.decimals, SHARES: reserve.decimals}
    amounts: dict[str, list[Decimal]] = {}
    for pos in state.portfolio.all_positions():
        amounts.setdefault(pos.asset, []).append(pos.quantity)
        for t in pos.trades.values():
            if t.executed_quantity is not None:
                amounts[pos.asset].append(t.executed_quantity)
    for bu in state.portfolio.balance_updates.values():
        amounts.setdefault(bu.asset, []).append(bu.quantity)
    for c in state.accounting_checks:
        for r in c.rows:
            amounts.setdefault(r.asset, []).extend((r.on_chain, r.ledger))
    for asset, values in amounts.items():
        if asset not in out:
            out[asset] = max((max(0, -int(v.as_tuple().exponent)) for v in values if v.is_finite() and v != 0),
                             default=0)
    return out


def build_report_from_state(state: State, name: str, audit: ChainAudit | None = None,
                            with_summary: bool = True) -> Report:
    """The report of a state file alone: no scenario, journal or expectations (and a chain
    view only when `audit` is given, built against a node)."""
    reserve = state.portfolio.reserve
    report = Report(
        name=name,
        description=None,
        source="state file",
        reserve_asset=reserve.asset,
        reserve_decimals=reserve.decimals,
        cycles=state.cycle,
        created_at=state.created_at,
        last_updated_at=state.last_updated_at,
        reconciliation=reconcile(state),
        chart=[
            StatPoint(s.cycle, s.timestamp, s.nav, s.cash, s.positions_value, s.kind, s.status)
            for s in state.stats
        ],
        movements=_movements(state),
        trades=_trades(state),
        repairs=_repairs(state),
        checks=_checks(state),
        ledger=_ledger(state),
        asset_decimals=_asset_decimals(state),
        audit=audit,
        audit_unavailable=None if audit is not None else NO_CHAIN,
    )
    if audit is not None:
        for book in audit.books:
            report.asset_decimals[book.asset] = book.decimals
    if with_summary:
        report.summary = summarise(report)
    return report


def summarise(report: Report) -> list[SummaryItem]:
    """What an auditor reads first: every kind of problem, counted, each linked to its row."""
    items: list[SummaryItem] = []

    def add(key: str, label: str, links: list[tuple[str, str]], detail: str = "", problem: bool | None = None) -> None:
        items.append(SummaryItem(key, label, len(links), links, bool(links) if problem is None else problem, detail))

    if report.source == "run":
        add("violations", "Invariant violations",
            [(f"{v.invariant} at {v.at}" + ("" if not v.expected_by_scenario else " (expected)"), f"violation-{v.row_id}")
             for v in report.violations],
            problem=any(not v.expected_by_scenario for v in report.violations))
    if report.audit is not None:
        flagged = report.audit.flagged_rows()
        add("chain-audit", "Chain audit: lines flagged",
            [(f"#{r.row_id} {r.asset} {r.status.value}" + ("" if r.explained_by else ", unexplained"), f"audit-{r.row_id}")
             for r in flagged],
            detail=f"{report.audit.unexplained} unexplained" if flagged else "",
            problem=report.audit.unexplained > 0)
    mismatches = [c for c in report.checks if c.outcome == "mismatch"]
    add("mismatches", "Accounting mismatches",
        [(f"check #{c.check_id} ({', '.join(r.asset for r in c.rows if r.verdict == 'mismatch')})", f"check-{c.check_id}")
         for c in mismatches])
    corrections = [m for m in report.movements if m.cause == "correction"]
    add("corrections", "Corrections booked",
        [(f"#{m.balance_update_id} {m.asset} {plain(m.quantity)}", f"movement-{m.balance_update_id}") for m in corrections])
    add("repaired", "Repaired trades", [(f"trade #{r.trade_id} ({r.status})", f"trade-{r.trade_id}") for r in report.repairs])
    add("failed", "Failed trades",
        [(f"trade #{t.trade_id} {t.pair}: {t.failure_reason or 'no reason'}", f"trade-{t.trade_id}")
         for t in report.trades if t.status == "failed"])
    if report.source == "run":
        restarts = [r for r in report.timeline if r.kind in ("crash", "node error")]
        add("restarts", "Crashes and restarts", [(f"{r.kind} at {r.at}", f"timeline-{r.row_id}") for r in restarts])
        add("retries", "Node requests retried",
            [(r.what.removeprefix("retried "), f"timeline-{r.row_id}") for r in report.timeline if r.kind == "retry"],
            problem=False)
        add("expectations", "Failed expectations",
            [(f"line {e.line} {e.kind}", f"expectation-{e.line}") for e in report.expectations if not e.passed])
        if report.error:
            add("error", "The run stopped", [(report.error.splitlines()[0], "facts")])
    rec = report.reconciliation
    add("residual", "Reconciliation residual", [] if rec.residual == 0 else [(plain(rec.residual), "reconciliation")],
        detail="exactly 0" if rec.residual == 0 else "not zero")
    # Problems first, then what is worth a look, then what is clean (stable within each).
    return sorted(items, key=lambda i: (not i.problem, i.count == 0))


def _sorted_trades(state: State) -> list[TradeExecution]:
    return sorted(state.portfolio.all_trades(), key=lambda t: t.trade_id)


def _movements(state: State) -> list[MovementRow]:
    out = []
    for bu in sorted(state.portfolio.balance_updates.values(), key=lambda b: b.balance_update_id):
        out.append(MovementRow(
            balance_update_id=bu.balance_update_id, timestamp=bu.timestamp, block_number=bu.block_number,
            cause=BalanceUpdateCause(bu.cause).value, asset=bu.asset,
            side="reserve" if bu.position_id is None else f"position #{bu.position_id}",
            quantity=bu.quantity, old_balance=bu.old_balance, new_balance=bu.new_balance,
            reserve_value=bu.reserve_value, shares=bu.shares, owner=bu.owner, tx_hash=bu.tx_hash,
            event_key=bu.event_key, notes=bu.notes,
        ))
    return out


def _settled_at(t: TradeExecution) -> datetime | None:
    return t.executed_at or t.failed_at or t.repaired_at


def _trades(state: State) -> list[TradeRow]:
    return [
        TradeRow(
            trade_id=t.trade_id, position_id=t.position_id, pair=t.pair, trade_type=t.trade_type.value,
            side=t.side, status=t.status.value, opened_at=t.opened_at, settled_at=_settled_at(t),
            planned_quantity=t.planned_quantity, planned_reserve=t.planned_reserve,
            planned_price=t.planned_price, executed_quantity=t.executed_quantity,
            executed_reserve=t.executed_reserve, executed_price=t.executed_price,
            lp_fees_paid=t.lp_fees_paid, slippage=t.slippage, max_slippage=t.max_slippage,
            failure_reason=t.failure_reason, repaired_trade_id=t.repaired_trade_id,
            repaired_by_trade_id=t.repaired_by_trade_id,
            tx_hashes=[tx.tx_hash for tx in t.blockchain_transactions], notes=list(t.notes),
        )
        for t in _sorted_trades(state)
    ]


def _repairs(state: State) -> list[RepairRow]:
    by_id = {t.trade_id: t for t in state.portfolio.all_trades()}
    out = []
    for t in _sorted_trades(state):
        repaired = t.status == TradeStatus.repaired
        settled = SETTLED_BY_REPAIR in t.notes
        if not (repaired or settled or (t.trade_id in state.repaired_trade_ids and not t.is_repair)):
            continue
        counter = by_id.get(t.repaired_by_trade_id) if t.repaired_by_trade_id is not None else None
        if repaired:
            reason = t.failure_reason or ""
            if counter is None:
                note = "no counter entry: it never moved capital (planned, never started)"
            else:
                note = "; ".join(counter.notes)
        else:
            reason = "settled from its receipt" + (f" ({t.failure_reason})" if t.failure_reason else "")
            note = "no counter entry: booked as the chain's receipt says"
        out.append(RepairRow(
            trade_id=t.trade_id, pair=t.pair, side=t.side, status=t.status.value,
            planned_quantity=t.planned_quantity, planned_reserve=t.planned_reserve,
            resolved_at=t.repaired_at or _settled_at(t), reason=reason,
            counter_trade_id=counter.trade_id if counter else None,
            counter_reserve=counter.executed_reserve if counter else None, counter_note=note,
        ))
    return out


def _checks(state: State) -> list[CheckTable]:
    out = []
    for c in state.accounting_checks:
        rows = []
        for r in c.rows:
            if r.correction_id is not None:
                action = f"corrected (balance update #{r.correction_id})"
            elif r.verdict == "mismatch":
                action = c.action
            else:
                action = "none"
            rows.append(CheckRow(
                asset=r.asset, address=r.address, on_chain=r.on_chain, ledger=r.ledger,
                difference=r.difference, relative_difference=r.relative_difference,
                tolerance=r.tolerance, verdict=str(r.verdict), action=action,
                position_id=r.position_id, correction_id=r.correction_id,
            ))
        out.append(CheckTable(
            check_id=c.check_id, kind=c.kind, cycle=c.cycle, timestamp=c.timestamp,
            block_number=c.block_number, policy=c.policy, outcome=str(c.outcome), action=c.action,
            rows=rows,
        ))
    return out


KIND_ORDER = {"balance_update": 0, "trade": 1, "repair": 2, "correction": 3}


def _ledger(state: State) -> list[LedgerRow]:
    portfolio = state.portfolio
    reserve = portfolio.reserve.asset
    rows: list[LedgerRow] = []
    for bu in portfolio.balance_updates.values():
        cause = BalanceUpdateCause(bu.cause)
        reserve_side = bu.position_id is None
        rows.append(LedgerRow(
            time=bu.timestamp, block_number=bu.block_number,
            kind="correction" if cause == BalanceUpdateCause.correction else "balance_update",
            cause=cause.value, asset=bu.asset, quantity=bu.quantity,
            reserve_amount=bu.quantity if reserve_side else bu.reserve_value,
            position_id=bu.position_id, trade_id=None, balance_update_id=bu.balance_update_id,
            repaired_trade_id=None, tx_hash=bu.tx_hash or "", event_key=bu.event_key, notes=bu.notes,
        ))
    for pos in portfolio.all_positions():
        for t in pos.trades.values():
            if t.status != TradeStatus.success or t.executed_at is None:
                continue
            tx = t.blockchain_transactions[-1] if t.blockchain_transactions else None
            executed = t.executed_reserve or Decimal(0)
            if t.is_repair:
                rows.append(LedgerRow(
                    time=t.executed_at, block_number=None, kind="repair", cause="repair",
                    asset=reserve, quantity=t.executed_reserve or Decimal(0), reserve_amount=t.executed_reserve,
                    position_id=t.position_id, trade_id=t.trade_id, balance_update_id=None,
                    repaired_trade_id=t.repaired_trade_id, tx_hash="", event_key="",
                    notes="; ".join(t.notes),
                ))
                continue
            rows.append(LedgerRow(
                time=t.executed_at, block_number=tx.block_number if tx else None, kind="trade",
                cause=t.side, asset=pos.asset,
                quantity=t.executed_quantity if t.executed_quantity is not None else Decimal(0),
                reserve_amount=-executed if t.is_buy else executed,
                position_id=t.position_id, trade_id=t.trade_id, balance_update_id=None,
                repaired_trade_id=None, tx_hash=tx.tx_hash if tx else "", event_key="",
                notes=f"{t.trade_type.value}; lp fees {plain(t.lp_fees_paid or Decimal(0))}",
            ))
    rows.sort(key=lambda r: (
        r.time, r.block_number if r.block_number is not None else -1, KIND_ORDER[r.kind],
        r.trade_id or 0, r.balance_update_id or 0,
    ))
    return rows
