"""The auditor's report of real runs on eth-tester: reconciled to zero, complete, byte-stable."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from harness.engine import ScenarioRun
from harness.errors import HarnessError
from harness.report import build_report, build_report_from_state, write_report
from harness.report.tables import check_groups
from harness.result import RunResult
from harness.scenario import load_scenario
from runner.state import StateStore, TradeStatus

ROOT = Path(__file__).resolve().parents[2]
REBASE = ROOT / "scenarios" / "rebase-while-holding.yaml"


def _run(path: Path, pool: object) -> RunResult:
    return ScenarioRun(load_scenario(path), backend="eth-tester", pool=pool).run()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rebase_run(chain_pool: object) -> RunResult:
    return _run(REBASE, chain_pool)


class TestRebaseWhileHolding:
    def test_report_reconciles_to_exactly_zero(self, rebase_run: RunResult, tmp_path: Path) -> None:
        """The four files are written; the identity holds to the last unit with residual 0."""
        paths = write_report(build_report(rebase_run), tmp_path)
        assert paths[:4] == [tmp_path / n for n in ("report.md", "report.html", "report.json", "ledger.csv")]
        doc = json.loads(paths[2].read_text())
        rec = doc["reconciliation"]
        assert rec["residual"] == "0"
        assert rec["final_nav"] == str(rebase_run.state.portfolio.nav())
        assert sum(Decimal(line["contribution"]) for line in rec["lines"]) == Decimal(rec["final_nav"])
        lines = {line["key"]: Decimal(line["amount"]) for line in rec["lines"]}
        assert lines["deposits"] == Decimal("10000")
        assert lines["withdrawals"] > 0 and lines["rebases"] > 0 and lines["fees"] > 0
        assert all(Decimal(t["amount"]) == 0 for t in rec["residual_terms"])
        assert doc["name"] == "rebase-while-holding" and doc["description"].startswith("A 1% positive rebase")

    def test_report_shows_every_trade_update_and_check(self, rebase_run: RunResult, tmp_path: Path) -> None:
        """Every trade, balance update and accounting-check row is in the report and the ledger."""
        state = rebase_run.state
        md_path, html_path, json_path, csv_path = write_report(build_report(rebase_run), tmp_path)[:4]
        md, html = md_path.read_text(), html_path.read_text()
        doc = json.loads(json_path.read_text())
        trades = sorted(state.portfolio.all_trades(), key=lambda t: t.trade_id)
        assert [t["trade_id"] for t in doc["trades"]] == [t.trade_id for t in trades]
        failed = [t for t in trades if t.status == TradeStatus.failed]
        assert failed and all(t.failure_reason and t.failure_reason in md for t in failed)
        assert [m["cause"] for m in doc["movements"]] == [
            b.cause.value for b in state.portfolio.balance_updates.values()]
        assert len(doc["checks"]) == len(state.accounting_checks)
        assert sum(len(c["rows"]) for c in doc["checks"]) == sum(len(c.rows) for c in state.accounting_checks)
        folded = sum(len(g.checks) for g in check_groups(build_report(rebase_run)) if g.folded)
        assert md.count("### Check #") + folded == len(state.accounting_checks)
        flat = list(csv.DictReader(io.StringIO((tmp_path / "checks.csv").read_text())))
        assert len(flat) == sum(len(c.rows) for c in state.accounting_checks)
        mismatch = [r for c in doc["checks"] for r in c["rows"] if r["verdict"] == "mismatch"]
        assert mismatch and all(r["asset"] == "WETH" and r["difference"] == "-0.500000000000000000"
                                for r in mismatch)
        assert any("left these differences uncorrected" in n for n in doc["reconciliation"]["notes"])
        rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
        settled = [t for t in trades if t.status == TradeStatus.success]
        assert len(rows) == len(state.portfolio.balance_updates) + len(settled)
        assert "<svg" in html and "https://" not in html and "http://" not in html

    def test_same_scenario_twice_gives_identical_bytes(self, rebase_run: RunResult, chain_pool: object,
                                                       tmp_path: Path) -> None:
        """A second run of the same scenario and seed writes byte-identical report files."""
        first = write_report(build_report(rebase_run), tmp_path / "a")
        second = write_report(build_report(_run(REBASE, chain_pool)), tmp_path / "b")
        assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]

    def test_state_file_alone_gives_the_same_reconciliation(self, rebase_run: RunResult, tmp_path: Path) -> None:
        """`harness report STATE_FILE`: the saved state reconciles like the run it came from."""
        path = tmp_path / "state.json"
        StateStore(path, fsync=False).save(rebase_run.state)
        from_file = build_report_from_state(StateStore(path).load(), "state.json")
        from_run = build_report(rebase_run)
        assert from_file.reconciliation == from_run.reconciliation
        assert from_file.description is None and from_file.expectations == []


def _eth_tester_scenarios() -> list[Path]:
    """Bundled scenarios declared for eth-tester (an invalid file is its own tests' business)."""
    out = []
    for p in sorted((ROOT / "scenarios").rglob("*.yaml")):
        try:
            if load_scenario(p.relative_to(ROOT)).chain.backend == "eth-tester":
                out.append(p)
        except HarnessError:
            continue
    return out


ETH_TESTER_SCENARIOS = _eth_tester_scenarios()


@pytest.mark.slow
@pytest.mark.parametrize("path", ETH_TESTER_SCENARIOS, ids=lambda p: str(p.relative_to(ROOT / "scenarios")))
def test_every_bundled_scenario_reconciles(path: Path, chain_pool: object) -> None:
    """Crashes, repairs, drains, rebases, interest, fee-on-transfer tokens: residual exactly 0,
    and the chain audit classifies every line and explains every flagged one."""
    report = build_report(_run(path.relative_to(ROOT), chain_pool))
    rec = report.reconciliation
    assert rec.residual == 0, [(t.key, t.amount) for t in rec.residual_terms]
    assert rec.sum_of_lines == rec.final_nav
    audit = report.audit
    assert audit is not None and audit.rows
    assert sum(audit.counts.values()) == len(audit.rows)
    assert [(r.row_id, r.asset, r.status.value, r.note) for r in audit.rows if r.flagged and not r.explained_by] == []
    for book in audit.books:
        assert book.closing == book.read_closing and book.difference == book.rows_difference, book.asset
