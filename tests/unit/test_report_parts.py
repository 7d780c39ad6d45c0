"""The report's parts without a chain: plain words, folded checks, decimals, escaping, summary."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from harness.report import build_report_from_state, write_report
from harness.report import words as w
from harness.report.render_html import render_html
from harness.report.render_md import render_markdown
from harness.report.tables import check_groups
from runner.state import (
    AccountingCheck,
    AccountingRow,
    BalanceUpdateCause,
    CheckAction,
    CheckKind,
    ClosedBy,
    CycleKind,
    MismatchPolicy,
    PositionState,
    TradeSide,
    TradeStatus,
    TradeType,
    Verdict,
)
from tests.unit.test_report_reconcile import _everything

D = Decimal


@pytest.mark.parametrize(("table", "enum"), [
    (w.CHECK_KIND, CheckKind), (w.CHECK_ACTION, CheckAction), (w.POLICY, MismatchPolicy), (w.VERDICT, Verdict),
    (w.TRADE_TYPE, TradeType), (w.TRADE_STATUS, TradeStatus), (w.SIDE, TradeSide),
    (w.POSITION_STATE, PositionState), (w.CLOSED_BY, ClosedBy), (w.CAUSE, BalanceUpdateCause),
    (w.CYCLE_KIND, CycleKind),
], ids=lambda x: getattr(x, "__name__", ""))
def test_every_code_name_of_the_state_has_plain_words(table: dict[str, str], enum: type) -> None:
    values = [m.value for m in enum]  # type: ignore[attr-defined]
    assert sorted(table) == sorted(values)
    assert all("_" not in table[v] for v in values)


def _check(check_id: int, t0: datetime, verdict: Verdict, diff: str = "0", asset: str = "USDC") -> AccountingCheck:
    outcome = verdict
    return AccountingCheck(
        check_id=check_id, kind=CheckKind.start if check_id % 2 else CheckKind.post_execution, cycle=check_id,
        timestamp=t0 + timedelta(days=check_id), block_number=10 + check_id, policy=MismatchPolicy.report,
        outcome=outcome, action=CheckAction.reported if verdict == Verdict.mismatch else CheckAction.none,
        rows=[AccountingRow(asset, "0x00", D(0), D(0), D(diff), D(0), D("0.000001"), verdict)],
    )


def test_only_consecutive_all_ok_checks_with_the_same_differences_fold(t0: datetime) -> None:
    s = _everything(t0)
    s.accounting_checks = [
        _check(1, t0, Verdict.ok), _check(2, t0, Verdict.ok), _check(3, t0, Verdict.ok),  # fold: 3
        _check(4, t0, Verdict.mismatch, "1"),  # never folded
        _check(5, t0, Verdict.ok),  # alone: the next one differs
        _check(6, t0, Verdict.ok, "0.000000000000000001"), _check(7, t0, Verdict.ok, "0.000000000000000001"),
        _check(8, t0, Verdict.dust, "0.5"), _check(9, t0, Verdict.dust, "0.5"),  # not all ok: never folded
    ]
    groups = [[c.check_id for c in g.checks] for g in check_groups(build_report_from_state(s, "f"))]
    assert groups == [[1, 2, 3], [4], [5], [6, 7], [8], [9]]
    html = render_html(build_report_from_state(s, "f"))
    assert 'id="check-4"' in html and 'id="check-1"' not in html and 'id="checks-1"' in html
    assert "#1 to #3" in html and "start of a cycle x2, after the cycle&#x27;s trades x1" in html


def test_csv_amounts_have_their_assets_decimals_and_columns_the_same_places(t0: datetime, tmp_path: Path) -> None:
    s = _everything(t0)
    write_report(build_report_from_state(s, "d"), tmp_path)
    places = {"USDC": 6, "WETH": 18, "stETH": 18, "LINK": 18}

    def decimals(cell: str) -> int:
        return len(cell.split(".")[1]) if "." in cell else 0

    moves = list(csv.DictReader(io.StringIO((tmp_path / "movements.csv").read_text())))
    assert moves and all(decimals(r["Quantity"]) == places[r["Asset"]] for r in moves)
    trades = list(csv.DictReader(io.StringIO((tmp_path / "trades.csv").read_text())))
    for r in trades:
        asset = r["Pair"].split("/")[0]
        assert decimals(r["Planned quantity"]) == places[asset] and decimals(r["Planned reserve"]) == 6
    for column in ("Planned price", "Executed price", "Max slippage"):
        cells = {decimals(r[column]) for r in trades if r[column]}
        assert len(cells) == 1, (column, cells)
    # The planned price 2000 of several trades is padded, not shown as "2000"
    assert "2000" not in {r["Planned price"] for r in trades}


def test_user_text_is_escaped_in_html_and_markdown(t0: datetime) -> None:
    s = _everything(t0)
    s.name = "<script>alert(1)</script> | x"
    bu = next(iter(s.portfolio.balance_updates.values()))
    bu.notes = "<img src=x onerror=alert(2)> | *bold* [link](http://evil)"
    report = build_report_from_state(s, s.name)
    html = render_html(report)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    md = render_markdown(report)
    unescaped = re.compile(r"(?<!\\)(<script|<img|\]\()")  # markup a Markdown renderer would act on
    assert unescaped.findall(md) == [] and "\\<script\\>" in md
    row = next(line for line in md.splitlines() if "onerror" in line)
    assert row.count(" | ") == row.replace("\\|", "").count(" | ")  # every | of the note is escaped
    assert "\\| \\*bold\\* \\[link\\]" in row


def test_the_summary_links_every_problem_to_an_anchor_of_the_page(t0: datetime) -> None:
    s = _everything(t0)
    report = build_report_from_state(s, "s")
    by_key = {i.key: i for i in report.summary}
    failed = [t.trade_id for t in s.portfolio.all_trades() if t.status == TradeStatus.failed]
    corrections = [b.balance_update_id for b in s.portfolio.balance_updates.values()
                   if b.cause == BalanceUpdateCause.correction]
    assert [a for _, a in by_key["failed"].links] == [f"trade-{n}" for n in failed] and by_key["failed"].problem
    assert [a for _, a in by_key["corrections"].links] == [f"movement-{n}" for n in corrections]
    assert [a for _, a in by_key["repaired"].links] == ["trade-8"]
    assert by_key["residual"].count == 0 and not by_key["residual"].problem
    html = render_html(report)
    for item in report.summary:
        for _, anchor in item.links:
            assert f'id="{anchor}"' in html, anchor
    assert "Chain view unavailable" in html  # a state file alone has no chain
