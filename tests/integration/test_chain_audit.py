"""The chain audit on real runs (eth-tester): each case planted, on the chain or in the ledger.

Chain-side cases come from bundled scenarios (a drain, an airdrop, a correction, a crash
whose trades were repaired, a rebase, a fee-on-transfer token); ledger-side cases are
planted by editing a copy of the final state and auditing it again against the same
chain, while it is still there (within the test).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import harness.engine
from harness.audit import AuditRow, Cause, ChainAudit, Status, build_audit
from harness.engine import ScenarioRun
from harness.result import RunResult
from harness.scenario import load_scenario
from runner.accounting import SHARES
from runner.chain.backend import Backend
from runner.state import BalanceUpdateCause, State, TradeStatus
from runner.universe import Universe

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Audited:
    result: RunResult
    backend: Backend
    universe: Universe
    first_block: int
    last_block: int

    @property
    def audit(self) -> ChainAudit:
        assert self.result.audit is not None
        return self.result.audit

    def again(self, state: State) -> ChainAudit:
        """The same chain, audited against another (planted) ledger."""
        return build_audit(self.backend, self.universe, state, self.first_block, self.last_block)


def _audited(name: str, pool: object, monkeypatch: pytest.MonkeyPatch, backend: str = "eth-tester") -> Audited:
    seen: dict[str, Any] = {}
    real = harness.engine.build_audit

    def spy(backend: Backend, universe: Universe, state: State, first: int, last: int) -> ChainAudit:
        seen.update(backend=backend, universe=universe, first=first, last=last)
        return real(backend, universe, state, first, last)

    monkeypatch.setattr(harness.engine, "build_audit", spy)
    result = ScenarioRun(load_scenario(Path("scenarios") / name), backend=backend, pool=pool).run()  # type: ignore[arg-type]
    return Audited(result, seen["backend"], seen["universe"], seen["first"], seen["last"])


def _flagged(audit: ChainAudit) -> list[AuditRow]:
    return [r for r in audit.rows if r.flagged]


def _assert_books_close(audit: ChainAudit) -> None:
    for book in audit.books:
        assert book.closing == book.read_closing, book.asset
        assert book.opening + book.inflows - book.outflows == book.closing, book.asset
        assert book.difference == book.rows_difference, book.asset
        assert not [ln for ln in book.lines if ln.cause == Cause.unlogged], book.asset


class TestChainSide:
    def test_a_drain_is_chain_only_and_explained_by_the_check_that_flagged_it(
            self, chain_pool: object, monkeypatch: pytest.MonkeyPatch) -> None:
        run = _audited("external-drain-caught.yaml", chain_pool, monkeypatch)
        [row] = _flagged(run.audit)
        assert (row.asset, row.status, row.chain_amount, row.ledger_amount) == (
            "WETH", Status.chain_only, Decimal("-0.25"), None)
        assert run.audit.books[1].lines[-1].cause == Cause.burn  # eth-tester drains by burning
        assert row.explained_by and "measured this difference of WETH: -0.250000000000000000" in row.explained_by
        _assert_books_close(run.audit)
        weth = next(b for b in run.audit.books if b.asset == "WETH")
        assert weth.difference == Decimal("-0.25") and weth.explained_by

        # The same drain, but the runner's checks saw nothing: unexplained.
        blind = copy.deepcopy(run.result.state)
        for check in blind.accounting_checks:
            for r in check.rows:
                r.difference = Decimal(0)
        again = run.again(blind)
        assert [(r.asset, r.status, r.explained_by) for r in _flagged(again)] == [("WETH", Status.chain_only, None)]
        assert again.unexplained == 1

    def test_an_airdrop_of_a_token_never_bought_is_chain_only(self, chain_pool: object,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        run = _audited("airdrop-caught.yaml", chain_pool, monkeypatch)
        [row] = _flagged(run.audit)
        assert (row.asset, row.status, row.chain_cause, row.chain_amount) == (
            "PEPE", Status.chain_only, Cause.mint.value, Decimal(1000))
        assert row.explained_by and "verdict mismatch" in row.explained_by
        assert run.audit.unexplained == 0

    def test_a_correction_that_books_the_airdrop_matches_it(self, chain_pool: object,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
        run = _audited("correction-mode-airdrop.yaml", chain_pool, monkeypatch)
        audit = run.audit
        [mint] = _flagged(audit)
        [corr] = [r for r in audit.rows if r.kind == "correction"]
        assert (mint.status, mint.chain_amount, mint.corrected_by) == (Status.chain_only, Decimal("0.3"),
                                                                        corr.balance_update_id)
        assert (corr.status, corr.ledger_amount, corr.asset) == (Status.matched, Decimal("0.3"), "WETH")
        assert f"#{mint.row_id}" in corr.note
        _assert_books_close(audit)

        # A correction of another amount does not book it.
        wrong = copy.deepcopy(run.result.state)
        bu = next(b for b in wrong.portfolio.balance_updates.values() if b.cause == BalanceUpdateCause.correction)
        bu.quantity = Decimal("0.2")
        again = run.again(wrong)
        [corr2] = [r for r in again.rows if r.kind == "correction"]
        assert corr2.status == Status.amount_differs
        assert next(r for r in again.rows if r.row_id == mint.row_id).corrected_by is None

    def test_a_rebase_is_matched_by_the_balance_it_moved(self, chain_pool: object,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
        run = _audited("positive-rebase.yaml", chain_pool, monkeypatch)
        audit = run.audit
        [rebase] = [r for r in audit.rows if r.kind == "rebase"]
        bu = run.result.state.portfolio.balance_updates[rebase.balance_update_id or 0]
        assert rebase.status == Status.matched and rebase.chain_amount == bu.quantity != 0
        assert rebase.chain_cause == Cause.rebase.value and rebase.log_index is not None
        # The rebasing token's sale took one unit less from the vault than its Transfer says
        # (shares rounded down): a rounding line, which the ledger books too (the vault's
        # balance change, not the amount the legacy vault's Swapped says it sent).
        assert _flagged(audit) == []
        [sale] = [r for r in audit.rows if r.asset == "stETH" and Cause.rounding.value in r.chain_cause]
        assert sale.status == Status.matched and sale.kind == "trade"
        trade = next(t for t in run.result.state.portfolio.all_trades() if t.trade_id == sale.trade_id)
        assert sale.chain_amount == sale.ledger_amount == trade.executed_quantity
        rounding = next(ln for b in audit.books if b.asset == "stETH" for ln in b.lines
                        if ln.cause == Cause.rounding and ln.tx_hash == sale.tx_hash)
        assert rounding.amount == Decimal("1e-18")
        _assert_books_close(audit)

        # The ledger booking the rebase one unit off: amount differs, and no check saw it.
        planted = copy.deepcopy(run.result.state)
        planted.portfolio.balance_updates[bu.balance_update_id].quantity += Decimal("1e-18")
        row = next(r for r in run.again(planted).rows if r.kind == "rebase")
        assert (row.status, row.difference, row.explained_by) == (Status.amount_differs, Decimal("-1e-18"), None)

    def test_a_fee_on_transfer_sale_matches_with_its_fee_burned(self, chain_pool: object,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
        run = _audited("fee-on-transfer-token.yaml", chain_pool, monkeypatch)
        audit = run.audit
        assert audit.counts[Status.matched.value] == len(audit.rows)
        fot = next(b for b in audit.books if b.asset == "FOT")
        [fee] = [ln for ln in fot.lines if ln.cause == Cause.transfer_fee]
        [paid] = [ln for ln in fot.lines if ln.tx_hash == fee.tx_hash and ln.cause == Cause.swap_out]
        sale = next(r for r in audit.rows if r.asset == "FOT" and r.tx_hash == fee.tx_hash)
        assert sale.chain_amount == paid.amount + fee.amount == sale.ledger_amount
        assert -fee.amount == (-sale.chain_amount * Decimal("0.01")).quantize(Decimal("1e-18"), "ROUND_DOWN")

        # A ledger that booked only what reached the pair (the fee forgotten) differs by the fee.
        planted = copy.deepcopy(run.result.state)
        trade = next(t for t in planted.portfolio.all_trades() if sale.trade_id == t.trade_id)
        trade.executed_quantity = paid.amount
        row = next(r for r in run.again(planted).rows if r.asset == "FOT" and r.trade_id == trade.trade_id)
        assert (row.status, row.difference) == (Status.amount_differs, fee.amount)


class TestCrashAndLedgerSide:
    def test_repaired_trades_moved_nothing_and_their_resent_twins_match(
            self, chain_pool: object, monkeypatch: pytest.MonkeyPatch) -> None:
        run = _audited("crash/crash-at-broadcast.yaml", chain_pool, monkeypatch)
        audit = run.audit
        state = run.result.state
        repaired = [t for t in state.portfolio.all_trades() if t.status == TradeStatus.repaired]
        assert repaired and run.result.crashes == 1
        for t in repaired:
            [row] = [r for r in audit.rows if r.trade_id == t.trade_id]
            assert row.status == Status.matched and row.ledger_amount == 0
            assert "the same signed bytes" in row.note
        assert not _flagged(audit)
        counters = [r for r in audit.rows if r.kind == "repair"]
        assert len(counters) == len(repaired) and all(r.status == Status.matched for r in counters)

        # Had the ledger repaired a trade whose swap did happen, the swap is chain-only.
        planted = copy.deepcopy(state)
        for t in planted.portfolio.all_trades():
            if t.status == TradeStatus.success and not t.is_repair and t.trade_id > max(r.trade_id for r in repaired):
                t.status, t.executed_quantity, t.executed_reserve = TradeStatus.repaired, None, None
                break
        flagged = _flagged(run.again(planted))
        assert len(flagged) == 2 and {r.status for r in flagged} == {Status.chain_only}
        assert all("but its transaction swapped on chain" in r.note for r in flagged)

    def test_a_double_booked_deposit_is_ledger_only(self, chain_pool: object,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        run = _audited("deposits-and-first-trades.yaml", chain_pool, monkeypatch)
        assert not _flagged(run.audit)
        planted = copy.deepcopy(run.result.state)
        first = next(b for b in planted.portfolio.balance_updates.values() if b.cause == BalanceUpdateCause.deposit)
        twin = copy.deepcopy(first)
        planted.portfolio.add_balance_update(twin, None)
        flagged = _flagged(run.again(planted))
        assert [(r.asset, r.status, r.ledger_ref) for r in flagged] == [
            ("USDC", Status.ledger_only, f"balance update #{twin.balance_update_id}"),
            (SHARES, Status.ledger_only, f"balance update #{twin.balance_update_id}"),
        ]
        assert all(f"already booked by balance update #{first.balance_update_id}" in r.note for r in flagged)
        assert all(r.explained_by is None for r in flagged)

    def test_a_trade_missing_from_the_ledger_or_settled_on_a_foreign_hash(
            self, chain_pool: object, monkeypatch: pytest.MonkeyPatch) -> None:
        run = _audited("deposits-and-first-trades.yaml", chain_pool, monkeypatch)
        state = run.result.state
        trade = next(t for t in state.portfolio.all_trades() if t.status == TradeStatus.success)

        forgotten = copy.deepcopy(state)
        pos = next(p for p in forgotten.portfolio.all_positions() if p.position_id == trade.position_id)
        del pos.trades[trade.trade_id]
        rows = _flagged(run.again(forgotten))
        assert len(rows) == 2 and {r.status for r in rows} == {Status.chain_only}
        assert all("no trade of the ledger settles" in r.note for r in rows)

        foreign = copy.deepcopy(state)
        t = next(x for x in foreign.portfolio.all_trades() if x.trade_id == trade.trade_id)
        t.blockchain_transactions[-1].tx_hash = "0x" + "ee" * 32
        rows = _flagged(run.again(foreign))
        assert sorted(r.status.value for r in rows) == ["chain-only", "chain-only", "ledger-only", "ledger-only"]
        assert all("not on the chain" in r.note for r in rows if r.status == Status.ledger_only)


REPRESENTATIVE = ["main-rebalance-30d.yaml", "tolerance-edge.yaml", "withdrawal-while-positions-open.yaml",
                  "interest-accrual.yaml", "crash/crash-at-confirm.yaml", "node/node-faults-retried.yaml"]


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_every_line_of_a_representative_scenario_is_classified(name: str, chain_pool: object,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """No line left unknown: every row has a class, every flagged row an explanation, the
    books close against the balances read at the last block, and the rows add up to the
    difference between the chain's closing balances and the ledger's."""
    run = _audited(name, chain_pool, monkeypatch)
    audit = run.audit
    assert audit.rows and {r.status for r in audit.rows} <= set(Status)
    assert sum(audit.counts.values()) == len(audit.rows)
    assert [r for r in audit.rows if r.flagged and not r.explained_by] == []
    _assert_books_close(audit)
    lines = {ln.line_id for b in audit.books for ln in b.lines}
    used = [i for r in audit.rows for i in r.chain_lines]
    assert sorted(used) == sorted(lines), "every chain line in exactly one row"


def _classified_and_closed(audit: ChainAudit) -> None:
    assert audit.rows and sum(audit.counts.values()) == len(audit.rows)
    assert [(r.row_id, r.asset, r.status.value, r.note) for r in audit.rows if r.flagged and not r.explained_by] == []
    _assert_books_close(audit)


NODE_ONLY = ["node/reorg-drops-confirmed-trades.yaml", "node/node-restart-keeps-chain.yaml",
             "node/stuck-broadcast-then-resume.yaml", "node/dropped-broadcast-repaired.yaml",
             "fork/fork-finds-positions.yaml"]


@pytest.mark.anvil
@pytest.mark.parametrize("name", NODE_ONLY)
def test_every_line_of_a_node_only_scenario_is_classified(name: str, chain_pool: object,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Reorgs, a node restarted from a state dump (no history before it), a stuck and a
    dropped broadcast, a fork whose history the books open with."""
    backend = load_scenario(Path("scenarios") / name).chain.backend
    run = _audited(name, chain_pool, monkeypatch, backend=backend)
    _classified_and_closed(run.audit)
    if "reorg" in name:
        gone = [r for r in run.audit.rows if r.status == Status.ledger_only]
        assert gone and all(r.kind == "trade" and "not on the chain" in r.note for r in gone)
        assert all(r.explained_by and "after a reorg" in r.explained_by for r in gone)
        # planted: a reversal that books more than the vanished swap moved explains nothing
        planted = copy.deepcopy(run.result.state)
        reversal = next(b for b in planted.portfolio.balance_updates.values() if b.event_key.startswith("reorg:"))
        reversal.quantity *= 2
        unexplained = [r for r in run.again(planted).rows if r.flagged and not r.explained_by]
        assert any(r.balance_update_id == reversal.balance_update_id for r in unexplained)
        assert any(r.kind == "trade" and r.asset == reversal.asset for r in unexplained)
    if "fork" in name:
        assert [r.kind for r in run.audit.rows if r.flagged] == ["opening"] * 3


@pytest.mark.anvil
def test_both_backends_give_the_same_audit(chain_pool: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rows, blocks, amounts and classes on eth-tester and anvil (only the drain's
    transaction differs: anvil's vault sends the tokens away, eth-tester's token burns them)."""
    rows = {}
    for backend in ("eth-tester", "anvil"):
        audit = _audited("rebase-while-holding.yaml", chain_pool, monkeypatch, backend=backend).audit
        rows[backend] = [(r.asset, r.kind, r.block, "" if r.kind == "external" else r.tx_hash, r.chain_amount,
                          r.ledger_amount, r.status) for r in audit.rows]
    assert rows["eth-tester"] == rows["anvil"]
