"""The report's tables as text cells, shared by the Markdown and HTML renderers.

Every amount is written exactly as the ledger holds it (`plain`), so an auditor can add
the figures up to the last unit; `numeric` marks the columns to right-align.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from harness.report.model import CheckTable, Report, in_units, iso, plain


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)


def _opt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return plain(v)
    return str(v)


def _id(v: int | None) -> str:
    return "" if v is None else f"#{v}"


def facts(report: Report) -> list[tuple[str, str]]:
    out = [("Source", "scenario run" if report.source == "run" else "state file only (no journal, no expectations)")]
    if report.fingerprint:
        out.append(("Fingerprint", report.fingerprint))
    out.append(("Reserve asset", f"{report.reserve_asset} ({report.reserve_decimals} decimals)"))
    out.append(("Cycles", str(report.cycles)))
    out.append(("State created", iso(report.created_at)))
    out.append(("State last updated", iso(report.last_updated_at) or "never"))
    if report.source == "run":
        out.append(("Crashes and restarts", str(report.crashes)))
        out.append(("Run error", report.error or "none"))
    return out


def reconciliation(report: Report) -> Table:
    rec = report.reconciliation

    def u(d: Decimal) -> str:
        return in_units(d, report.reserve_decimals)

    rows = [[line.label, "+" if line.sign > 0 else "-", u(line.amount)] for line in rec.lines]
    rows.append(["Sum of the lines", "=", u(rec.sum_of_lines)])
    rows.append(["Final NAV", "", u(rec.final_nav)])
    rows.append(["Residual (final NAV - sum of the lines)", "", u(rec.residual)])
    return Table(["Line", "", f"Amount ({rec.reserve_asset})"], rows, {2})


def nav_composition(report: Report) -> Table:
    rec = report.reconciliation
    d = report.reserve_decimals
    return Table(
        ["Reserve cash", "Capital in flight (open positions)", "Positions value", "Final NAV"],
        [[in_units(rec.nav_cash, d), in_units(rec.nav_in_flight, d), in_units(rec.nav_positions, d),
          in_units(rec.final_nav, d)]],
        {0, 1, 2, 3},
    )


def residual_terms(report: Report) -> Table:
    rec = report.reconciliation
    return Table(["Term", "Amount", "What it means"],
                 [[t.label, in_units(t.amount, report.reserve_decimals), t.definition]
                  for t in rec.residual_terms], {1})


def positions(report: Report) -> Table:
    headers = ["Position", "State", "Quantity", "Valuation price", "Value", "Bought", "Sold",
               "Cost basis (to the unit)", "Buy fees", "Sell fees", "Fees still in cost", "Realised (before fees)",
               "Runner realised_pnl", "Held share", "Rebase/interest/correction tokens",
               "Their value", "Unrealised (before fees)"]
    rows = []
    for p in report.reconciliation.positions:
        bu_q = "; ".join(f"{c} {plain(q)}" for c, q in p.balance_update_quantity.items())
        bu_v = "; ".join(f"{c} {plain(v)}" for c, v in p.balance_update_value.items())
        rows.append([f"#{p.position_id} {p.pair}", p.state, plain(p.quantity), _opt(p.valuation_price),
                     plain(p.value), plain(p.bought), plain(p.sold), plain(p.cost_basis),
                     plain(p.buy_fees), plain(p.sell_fees), plain(p.fees_unrealised),
                     plain(p.realised_pnl), plain(p.runner_realised_pnl), plain(p.held_fraction),
                     bu_q, bu_v, plain(p.unrealised_pnl)])
    return Table(headers, rows, {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16})


def cross_checks(report: Report) -> Table:
    return Table(
        ["Figure", "Runner", "Recomputed", "Difference", "Meaning"],
        [[c.subject, plain(c.runner), plain(c.recomputed), plain(c.difference), c.note]
         for c in report.reconciliation.cross_checks],
        {1, 2, 3},
    )


def statistics(report: Report) -> Table:
    return Table(
        ["Cycle", "Time", "Kind", "Status", "NAV", "Cash", "Positions value"],
        [[str(s.cycle), iso(s.timestamp), s.kind, s.status, plain(s.nav), plain(s.cash),
          plain(s.positions_value)] for s in report.chart],
        {0, 4, 5, 6},
    )


def movements(report: Report) -> Table:
    return Table(
        ["Id", "Time", "Block", "Cause", "Asset", "Booked to", "Quantity", "Old balance",
         "New balance", "Reserve value", "Shares", "Owner", "Tx / event", "Notes"],
        [[_id(m.balance_update_id), iso(m.timestamp), str(m.block_number), m.cause, m.asset, m.side,
          plain(m.quantity), plain(m.old_balance), plain(m.new_balance), _opt(m.reserve_value),
          _opt(m.shares), _opt(m.owner), m.tx_hash or m.event_key, m.notes]
         for m in report.movements],
        {2, 6, 7, 8, 9, 10},
    )


def trades(report: Report) -> Table:
    rows = []
    for t in report.trades:
        link = ""
        if t.repaired_trade_id is not None:
            link = f"repairs #{t.repaired_trade_id}"
        elif t.repaired_by_trade_id is not None:
            link = f"repaired by #{t.repaired_by_trade_id}"
        rows.append([_id(t.trade_id), _id(t.position_id), t.pair, t.trade_type, t.side, t.status,
                     iso(t.opened_at), iso(t.settled_at), plain(t.planned_quantity),
                     plain(t.planned_reserve), plain(t.planned_price), _opt(t.executed_quantity),
                     _opt(t.executed_reserve), _opt(t.executed_price), _opt(t.lp_fees_paid),
                     _opt(t.slippage), plain(t.max_slippage), t.failure_reason or "", link])
    return Table(
        ["Trade", "Position", "Pair", "Type", "Side", "Status", "Opened", "Settled",
         "Planned qty", "Planned reserve", "Planned price", "Executed qty", "Executed reserve",
         "Executed price", "LP fees", "Slippage", "Max slippage", "Failure reason", "Repair"],
        rows, {8, 9, 10, 11, 12, 13, 14, 15, 16},
    )


def repairs(report: Report) -> Table:
    return Table(
        ["Trade", "Pair", "Side", "Status", "Planned qty", "Planned reserve", "Resolved at",
         "Reason", "Counter entry", "Reserve restored", "Counter note"],
        [[_id(r.trade_id), r.pair, r.side, r.status, plain(r.planned_quantity), plain(r.planned_reserve),
          iso(r.resolved_at), r.reason, _id(r.counter_trade_id), _opt(r.counter_reserve), r.counter_note]
         for r in report.repairs],
        {4, 5, 9},
    )


def check_heading(c: CheckTable) -> str:
    return (f"Check #{c.check_id} ({c.kind}), cycle {c.cycle}, {iso(c.timestamp)}, block {c.block_number}: "
            f"policy {c.policy}, outcome {c.outcome}, action {c.action}")


def check_rows(c: CheckTable) -> Table:
    return Table(
        ["Asset", "Address", "On-chain", "Ledger", "Difference", "Relative difference", "Tolerance",
         "Verdict", "Action"],
        [[r.asset, r.address, plain(r.on_chain), plain(r.ledger), plain(r.difference),
          plain(r.relative_difference), plain(r.tolerance), r.verdict, r.action] for r in c.rows],
        {2, 3, 4, 5, 6},
    )


def expectations(report: Report) -> Table:
    return Table(
        ["Line", "Kind", "At", "Result", "Message"],
        [[str(e.line), e.kind, iso(e.at), "ok" if e.passed else "FAIL", e.message] for e in report.expectations],
        {0},
    )
