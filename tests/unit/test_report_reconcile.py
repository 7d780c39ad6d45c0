"""The auditor's report without a chain: hand-built states, exact reconciliation, stable files."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.report import build_report_from_state, reconcile, write_report
from harness.report.model import Reconciliation
from runner.state import (
    BalanceUpdate,
    BalanceUpdateCause,
    CycleStatistics,
    State,
    TradeExecution,
    TradeStatus,
    TradingPosition,
    decode_state,
    encode_state,
)

D = Decimal
H = timedelta(hours=1)


# -- typed factories: every movement goes through the Portfolio methods, as in the runner --


def _state(t0: datetime) -> State:
    return State.new("hand-built", "USDC", t0, 6)


def _update(state: State, cause: BalanceUpdateCause, asset: str, qty: str, ts: datetime,
            pos: TradingPosition | None = None) -> BalanceUpdate:
    p = state.portfolio
    old = p.reserve.quantity if pos is None else pos.quantity
    n = p.next_balance_update_id
    bu = BalanceUpdate(
        balance_update_id=0, cause=cause, asset=asset, quantity=D(qty), old_balance=old,
        new_balance=old + D(qty), block_number=10 + n, timestamp=ts, event_key=f"0x{n:02x}:0",
        shares=D(qty).copy_abs() if cause in (BalanceUpdateCause.deposit, BalanceUpdateCause.redemption) else None,
    )
    return p.add_balance_update(bu, pos)


def _buy(state: State, pos: TradingPosition, ts: datetime, qty: str, reserve: str, fee: str,
         planned: str | None = None) -> TradeExecution:
    p = state.portfolio
    t = p.create_trade(pos, ts, D(qty), D(planned or reserve), D(reserve) / D(qty))
    p.start_trade(t, ts)
    p.settle_success(t, ts, D(qty), D(reserve), D(fee))
    return t


def _sell(state: State, pos: TradingPosition, ts: datetime, qty: str, reserve: str, fee: str) -> TradeExecution:
    p = state.portfolio
    t = p.create_trade(pos, ts, -D(qty), D(reserve), D(reserve) / D(qty))
    p.start_trade(t, ts)
    p.settle_success(t, ts, -D(qty), D(reserve), D(fee))
    return t


def _stat(state: State, ts: datetime) -> None:
    p = state.portfolio
    state.cycle += 1
    state.stats.append(CycleStatistics(
        cycle=state.cycle, timestamp=ts, nav=p.nav(), cash=p.cash(), positions_value=p.positions_value(),
        open_positions=len(p.open_positions),
    ))


def _everything(t0: datetime) -> State:
    """Buys, partial sells, a full close, a failed trade, a repair, a rebase, interest, a reserve
    and a position correction, a redemption and a buy still in flight."""
    s = _state(t0)
    p = s.portfolio
    _update(s, BalanceUpdateCause.deposit, "USDC", "10000.000000", t0)
    weth = p.open_position("WETH/USDC", "WETH", t0)
    steth = p.open_position("stETH/USDC", "stETH", t0)
    link = p.open_position("LINK/USDC", "LINK", t0)
    _buy(s, weth, t0, "2.000000000000000000", "4000.000000", "12.000000")
    _buy(s, steth, t0, "1.000000000000000000", "2000.000000", "6.000000", planned="2010.000000")
    _buy(s, link, t0, "100.000000000000000000", "1500.000000", "4.500000")
    for pos, price in ((weth, "1999.123456789012345678901234"), (steth, "2001.5"), (link, "15.2")):
        pos.valuation_price = D(price)
    _stat(s, t0)

    t1 = t0 + 24 * H
    _update(s, BalanceUpdateCause.rebase, "stETH", "0.010000000000000000", t1, steth)
    _update(s, BalanceUpdateCause.interest, "stETH", "0.005000000000000000", t1, steth)
    # a third of the rebased stETH: settle_success's share is not a terminating decimal
    _sell(s, steth, t1, "0.338333333333333333", "690.123457", "2.070370")
    _sell(s, weth, t1, "0.500000000000000000", "1100.000000", "3.300000")
    _sell(s, link, t1, "100.000000000000000000", "1650.000000", "4.950000")
    p.close_position(link, t1, "strategy")
    failed = p.create_trade(weth, t1, D("0.1"), D("200.000000"), D("2000"))
    p.start_trade(failed, t1)
    p.settle_failure(failed, t1, "SLIPPAGE")
    _stat(s, t1)

    t2 = t0 + 48 * H
    lost = p.create_trade(steth, t2, D("0.05"), D("100.000000"), D("2000"))
    p.start_trade(lost, t2)
    p.repair_trade(lost, t2 + H, "tx 0xdead was never broadcast or was dropped (nonce 3 unused)")
    s.repaired_trade_ids.append(lost.trade_id)
    _update(s, BalanceUpdateCause.correction, "USDC", "0.000002", t2 + H)
    _update(s, BalanceUpdateCause.correction, "WETH", "-0.100000000000000000", t2 + H, weth)
    _update(s, BalanceUpdateCause.redemption, "USDC", "-500.000000", t2 + H)
    flying = p.create_trade(weth, t2 + H, D("0.2"), D("400.000000"), D("2000"))
    p.start_trade(flying, t2 + H)  # still in flight at the end: NAV counts its capital
    weth.valuation_price = D("1500.987654321")
    steth.valuation_price = D("2100.333333333333333333")
    _stat(s, t2 + H)
    return s


def _line(rec: Reconciliation, key: str) -> Decimal:
    return next(line.amount for line in rec.lines if line.key == key)


def _term(rec: Reconciliation, key: str) -> Decimal:
    return next(t.amount for t in rec.residual_terms if t.key == key)


def _identity(rec: Reconciliation) -> Decimal:
    return (_line(rec, "starting_capital") + _line(rec, "deposits") - _line(rec, "withdrawals")
            + _line(rec, "realised_pnl") + _line(rec, "unrealised_pnl") + _line(rec, "rebases")
            + _line(rec, "interest") + _line(rec, "corrections") - _line(rec, "fees"))


class TestIdentity:
    def test_every_kind_of_movement_reconciles_to_exactly_zero(self, t0: datetime) -> None:
        """Buys, partial sells, a close, a failure, a repair, rebase, interest and corrections: residual 0."""
        s = _everything(t0)
        rec = reconcile(s)
        assert rec.final_nav == s.portfolio.nav()
        assert rec.residual == 0 and rec.residual.is_zero()
        assert rec.sum_of_lines == rec.final_nav == _identity(rec)
        assert all(t.amount == 0 for t in rec.residual_terms)
        assert [t.key for t in rec.residual_terms] == ["cash_unexplained", "in_flight_on_closed", "nav_rounding"]

    def test_lines_hold_the_recorded_amounts(self, t0: datetime) -> None:
        """Deposits, withdrawals, reserve correction and fees are the booked figures, to the unit."""
        rec = reconcile(_everything(t0))
        assert _line(rec, "starting_capital") == 0
        assert _line(rec, "deposits") == D("10000.000000")
        assert _line(rec, "withdrawals") == D("500.000000")
        assert _line(rec, "fees") == D("12") + D("6") + D("4.5") + D("2.07037") + D("3.3") + D("4.95")
        # reserve +0.000002 in cash, WETH -0.1 still held at 1500.987654321 (rounded down)
        held = D("-0.1") * D("1.4") * D("1500.987654321") / (D("1.4") + D("0.5"))
        weth_correction = held.quantize(D("1e-6"), rounding=ROUND_DOWN)
        assert weth_correction == D("-110.599090")
        assert _line(rec, "corrections") == D("0.000002") + weth_correction
        assert rec.nav_in_flight == D("400.000000")

    def test_rebase_and_interest_are_valued_once_for_what_is_still_held(self, t0: datetime) -> None:
        """Tokens without cost basis are on their own lines and out of unrealised PnL."""
        s = _state(t0)
        p = s.portfolio
        _update(s, BalanceUpdateCause.deposit, "USDC", "1000", t0)
        pos = p.open_position("stETH/USDC", "stETH", t0)
        _buy(s, pos, t0, "1", "500", "0")
        _update(s, BalanceUpdateCause.rebase, "stETH", "0.1", t0, pos)
        _update(s, BalanceUpdateCause.interest, "stETH", "0.02", t0, pos)
        pos.valuation_price = D("600")
        rec = reconcile(s)
        assert rec.final_nav == D("500") + D("672")
        assert (_line(rec, "rebases"), _line(rec, "interest")) == (D("60"), D("12"))
        assert _line(rec, "unrealised_pnl") == D("100")  # 1 bought token, 500 -> 600
        assert rec.residual == 0

        _sell(s, pos, t0 + H, "0.56", "336", "0")  # half of the 1.12 held
        rec = reconcile(s)
        assert (_line(rec, "rebases"), _line(rec, "interest")) == (D("30"), D("6"))
        assert _line(rec, "realised_pnl") == D("336") - D("250")  # the sold rebase tokens are inside
        assert _line(rec, "unrealised_pnl") == D("336") - D("250") - D("36")
        assert rec.residual == 0

    def test_fees_are_added_back_so_net_pnl_is_what_nav_shows(self, t0: datetime) -> None:
        """A 1.5 fee on a 500 buy: unrealised before fees is 101.5, fees 1.5, NAV 1100."""
        s = _state(t0)
        p = s.portfolio
        _update(s, BalanceUpdateCause.deposit, "USDC", "1000.000000", t0)
        pos = p.open_position("WETH/USDC", "WETH", t0)
        _buy(s, pos, t0, "1", "500.000000", "1.500000")
        pos.valuation_price = D("600")
        rec = reconcile(s)
        assert rec.final_nav == D("1100")
        assert (_line(rec, "realised_pnl"), _line(rec, "unrealised_pnl"), _line(rec, "fees")) == (
            D("0"), D("101.5"), D("1.5"))
        _sell(s, pos, t0 + H, "1", "598.200000", "1.800000")
        p.close_position(pos, t0 + H, "strategy")
        rec = reconcile(s)
        assert (_line(rec, "realised_pnl"), _line(rec, "unrealised_pnl"), _line(rec, "fees")) == (
            D("101.5"), D("0"), D("3.3"))
        assert rec.final_nav == D("1098.2") and rec.residual == 0

    def test_runner_rounding_of_realised_pnl_is_reported_not_absorbed(self, t0: datetime) -> None:
        """settle_success's 28-digit share leaves realised_pnl off by < 1e-20: a cross-check, not a residual."""
        rec = reconcile(_everything(t0))
        pnl = [c for c in rec.cross_checks if "realised" in c.subject]
        assert len(pnl) == 3
        assert all(abs(c.difference) < D("1e-20") for c in pnl)
        assert all(c.difference == 0 for c in rec.cross_checks if "quantity" in c.subject)
        assert rec.residual == 0


class TestWhereTheIdentityBreaks:
    """States the Portfolio methods can produce that NAV does not reconcile: the residual
    is exact and its terms name the method."""

    def test_settle_success_on_an_unstarted_buy_credits_capital_it_never_took(self, t0: datetime) -> None:
        s = _state(t0)
        p = s.portfolio
        _update(s, BalanceUpdateCause.deposit, "USDC", "1000", t0)
        pos = p.open_position("WETH/USDC", "WETH", t0)
        t = p.create_trade(pos, t0, D("1"), D("510"), D("500"))
        p.settle_success(t, t0, D("1"), D("500"), D("0"))  # no start_trade: +510 - 500 to cash
        pos.valuation_price = D("500")
        rec = reconcile(s)
        assert rec.residual == D("510")
        assert _term(rec, "cash_unexplained") == D("510")

    def test_capital_in_flight_on_a_closed_position_stays_in_nav(self, t0: datetime) -> None:
        """Capital of an unsettled buy counts in NAV even when its position was closed (it
        used to drop out: NAV only walked open positions' trades)."""
        s = _state(t0)
        p = s.portfolio
        _update(s, BalanceUpdateCause.deposit, "USDC", "1000", t0)
        pos = p.open_position("WETH/USDC", "WETH", t0)
        t = p.create_trade(pos, t0, D("1"), D("300"), D("300"))
        p.start_trade(t, t0)
        p.close_position(pos, t0, "strategy")
        assert p.nav() == D("1000")
        rec = reconcile(s)
        assert rec.residual == 0
        assert _term(rec, "in_flight_on_closed") == 0

    def test_a_reserve_set_outside_the_portfolio_methods_is_unexplained_cash(self, t0: datetime) -> None:
        s = _state(t0)
        s.portfolio.reserve.quantity = D("1000.000001")  # no deposit recorded
        rec = reconcile(s)
        assert rec.residual == _term(rec, "cash_unexplained") == D("1000.000001")

    def test_terms_always_add_up_to_the_residual(self, t0: datetime) -> None:
        s = _everything(t0)
        s.portfolio.reserve.quantity += D("0.000003")
        rec = reconcile(s)
        assert rec.residual == D("0.000003")
        assert sum((t.amount for t in rec.residual_terms), D(0)) == rec.residual
        assert "unattributed" not in [t.key for t in rec.residual_terms]


class _SvgScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_svg = 0
        self.series: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("id") == "nav-chart":
            self.in_svg += 1
        if self.in_svg and tag in ("polyline", "path"):
            self.series.append(a.get("data-series") or "")
        for k in ("href", "src", "xmlns"):
            value = a.get(k)
            if value and not (k == "href" and value.startswith("#")):  # links within the page are fine
                self.urls.append(str(value))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self.in_svg:
            self.in_svg -= 1


class TestReportFiles:
    def test_files_are_written_in_order_and_byte_identical(self, t0: datetime, tmp_path: Path) -> None:
        """Two builds of the same state give the same bytes, in md, html, json, csv order."""
        s = _everything(t0)
        a = write_report(build_report_from_state(s, "x"), tmp_path / "a")
        b = write_report(build_report_from_state(decode_state(encode_state(s)), "x"), tmp_path / "b")
        assert [p.name for p in a][:4] == ["report.md", "report.html", "report.json", "ledger.csv"]
        assert [p.name for p in a][4:] == [
            "summary.csv", "cycles.csv", "reconciliation.csv", "final-nav.csv", "residual-terms.csv",
            "positions.csv", "cross-checks.csv", "movements.csv", "trades.csv", "repairs.csv", "checks.csv"]
        assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]

    def test_json_has_sorted_keys_and_decimal_strings(self, t0: datetime, tmp_path: Path) -> None:
        s = _everything(t0)
        paths = write_report(build_report_from_state(s, "hand"), tmp_path)
        text = paths[2].read_text()
        doc = json.loads(text)
        assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        rec = doc["reconciliation"]
        assert rec["residual"] == "0" and rec["final_nav"] == str(s.portfolio.nav())
        assert all(isinstance(line["amount"], str) for line in rec["lines"])
        assert [line["key"] for line in rec["lines"]] == [
            "starting_capital", "deposits", "withdrawals", "realised_pnl", "unrealised_pnl",
            "rebases", "interest", "corrections", "fees"]
        assert sum(D(line["contribution"]) for line in rec["lines"]) == D(rec["final_nav"])

    def test_ledger_csv_has_one_row_per_movement(self, t0: datetime, tmp_path: Path) -> None:
        s = _everything(t0)
        rows = list(csv.DictReader(io.StringIO(write_report(build_report_from_state(s, "h"), tmp_path)[3].read_text())))
        settled = [t for t in s.portfolio.all_trades() if t.status == TradeStatus.success]
        assert len(rows) == len(s.portfolio.balance_updates) + len(settled)
        kinds = sorted({r["kind"] for r in rows})
        assert kinds == ["balance_update", "correction", "repair", "trade"]
        repair = next(r for r in rows if r["kind"] == "repair")
        assert (repair["asset"], repair["reserve_amount"], repair["repaired_trade_id"]) == ("USDC", "100.000000", "8")
        assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
        buys = [r for r in rows if r["cause"] == "buy"]
        assert all(D(r["reserve_amount"]) < 0 < D(r["quantity"]) for r in buys)

    def test_markdown_and_html_show_every_table(self, t0: datetime, tmp_path: Path) -> None:
        s = _everything(t0)
        md, html = (p.read_text() for p in write_report(build_report_from_state(s, "hand"), tmp_path)[:2])
        for heading in ("Closing reconciliation", "Deposits, withdrawals, rebases, interest and corrections",
                        "Trades", "Repaired trades", "Accounting checks", "What each line is"):
            assert heading in md and heading in html
        assert "Residual: exactly zero." in md
        assert "| #8 | #2 | stETH/USDC | rebalance | buy | repaired after a restart |" in md  # the repair
        assert "| #9 | #2 | stETH/USDC | repair counter entry | repair | success |" in md  # and its counter
        assert "SLIPPAGE" in md and "SLIPPAGE" in html
        assert "http://" not in html and "https://" not in html
        scan = _SvgScan()
        scan.feed(html)
        assert scan.series == ["nav", "cash", "positions_value"]
        assert scan.urls == []

    def test_a_state_with_nothing_in_it_still_reports(self, t0: datetime, tmp_path: Path) -> None:
        report = build_report_from_state(_state(t0), "empty")
        assert report.reconciliation.residual == 0 and report.reconciliation.final_nav == 0
        paths = write_report(report, tmp_path)
        assert "no cycle statistics recorded" in paths[1].read_text()

    @pytest.mark.parametrize("cause", list(BalanceUpdateCause))
    def test_every_cause_lands_on_its_line(self, t0: datetime, cause: BalanceUpdateCause) -> None:
        s = _state(t0)
        _update(s, BalanceUpdateCause.deposit, "USDC", "5", t0)
        _update(s, cause, "USDC", "-2" if cause == BalanceUpdateCause.redemption else "2", t0)
        rec = reconcile(s)
        key = {"deposit": "deposits", "redemption": "withdrawals", "rebase": "rebases",
               "interest": "interest", "correction": "corrections"}[cause.value]
        assert _line(rec, key) == (D(7) if key == "deposits" else D(2))
        assert rec.residual == 0
