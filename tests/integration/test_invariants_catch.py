"""Every invariant fails on a planted runner bug, and only the invariants that should.

For each invariant one bug of the catalogue (tests/mutants/catalogue.py) is planted in
this process, on the one function it changes (monkeypatch: the teardown takes it out),
and one of its scenarios runs on revm. The test asserts the exact set of invariants
that reported (the bug's own invariant among them, usually alone), and that the
violation carries the numbers of both sides, checked against what the unpatched
runner booked in the same world or against the bug's direction, never against the
invariant's own arithmetic. The unpatched runs pass without a violation.

`make mutants` runs the whole catalogue on scratch copies instead (tests/mutants/run.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.invariants import Violation, names
from harness.result import RunResult
from harness.scenario import load_scenario
from harness.vocabulary import InvariantName
from runner.state import TradeStatus
from tests.mutants.catalogue import BOOKS, BY_ID, REORG, REPAIR, REPO, TRIGGERS, apply_in_process

STOP_LOSS = "scenarios/price-crash-stop-loss.yaml"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
Check = Callable[[list[Violation], RunResult], None]


def run(scenario: str, pool: ChainPool, state_dir: Path) -> RunResult:
    return ScenarioRun(load_scenario(REPO / scenario), backend="revm", pool=pool, state_dir=state_dir).run()


_BASELINES: dict[str, RunResult] = {}


@pytest.fixture
def baseline(chain_pool: ChainPool, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], RunResult]:
    """The unpatched run of a scenario (once per scenario per session)."""

    def get(scenario: str) -> RunResult:
        if scenario not in _BASELINES:
            _BASELINES[scenario] = run(scenario, chain_pool, tmp_path_factory.mktemp("baseline"))
        return _BASELINES[scenario]

    return get


def number(text: str, index: int = 0) -> Decimal:
    return Decimal(NUMBER.findall(text)[index])


# -- what each violation must say, against an independent source --------------------------------


def _rebooked_events_are_real(found: list[Violation], base: RunResult) -> None:
    v = found[0]
    assert v.expected.startswith("0 new updates from block ") and number(v.found) >= 1
    keys = re.findall(r"\((0x[0-9a-f]{64}:\d+)\)", v.detail)
    assert keys and set(keys) <= set(base.state.portfolio.seen_event_keys)  # events the true runner booked once


def _nav_overvalued(found: list[Violation], base: RunResult) -> None:
    for v in found:
        chain, ledger = number(v.expected), number(v.found)
        assert ledger > chain, "valuing at the ask puts the ledger's NAV above the chain's"


def _shares_off_by_the_deposit(found: list[Violation], base: RunResult) -> None:
    [bob] = [bu for bu in base.state.portfolio.balance_updates.values() if bu.quantity == 4000]  # bob's deposit
    assert bob.shares is not None
    v = next(v for v in found if "share supply" in v.expected)
    assert number(v.found) - number(v.expected) == bob.quantity - bob.shares


def _lp_fee_of_the_pool(found: list[Violation], base: RunResult) -> None:
    v = found[0]
    trade_id = int(re.search(r"trade #(\d+)", v.detail).group(1))  # type: ignore[union-attr]
    true = base.state.portfolio.get_trade(trade_id)
    assert true.lp_fees_paid and true.executed_reserve
    assert v.expected == f"LP fee {true.lp_fees_paid}" and number(v.found) == 0
    fee = {"WETH/USDC": Decimal("0.003"), "stETH/USDC": Decimal("0.0005")}[true.pair]  # the scenario's tiers
    assert abs(true.lp_fees_paid - true.executed_reserve * fee) <= Decimal("0.000002")


def _deposit_gets_too_many_shares(found: list[Violation], base: RunResult) -> None:
    v = found[0]  # bob's deposit (the redemption after it is mispriced too)
    assert "deposit of 4000.000000 for" in v.found and "to the investor" in v.detail
    [true] = [bu for bu in base.state.portfolio.balance_updates.values() if bu.quantity == 4000]
    assert true.shares is not None and number(v.found, 1) > true.shares  # priced off a NAV without positions


def _never_sent_left_unfinished(found: list[Violation], base: RunResult) -> None:
    never_sent = {r["trade_id"] for r in base.repaired if r["status"] == TradeStatus.repaired}
    assert never_sent and {int(number(v.found)) for v in found} == never_sent
    assert all(v.found.endswith(" started") and "finished" in v.expected for v in found)


def _second_repair_changes_them(found: list[Violation], base: RunResult) -> None:
    never_sent = sorted(r["trade_id"] for r in base.repaired if r["status"] == TradeStatus.repaired)
    v = found[0]
    assert v.expected == "0 trades changed" and number(v.found) == len(never_sent)
    assert f"trade(s) {', '.join(f'#{i} started' for i in never_sent)} fixed again" in v.detail
    # and what the second repair changed, by path, with both values
    assert re.search(r"; first difference at state\.\S+: .+ after the first repair, .+ after the second$", v.detail)


def _trailing_high_not_on_disk(found: list[Violation], base: RunResult) -> None:
    v = found[0]
    assert v.at.endswith("h"), "caught at the trigger check that moved the high, not at a tick"
    assert v.expected != v.found and "trailing_high" in v.expected + v.found


def _mined_trades_lost(found: list[Violation], base: RunResult) -> None:
    settled_by_repair = {t.trade_id for t in base.state.portfolio.all_trades()
                         if "settled by repair from its receipt" in t.notes}
    hashes = {base.state.portfolio.get_trade(i).blockchain_transactions[-1].tx_hash for i in settled_by_repair}
    for v in found:
        assert number(v.expected) - number(v.found) == len(settled_by_repair)
        lost = set(re.findall(r"0x[0-9a-f]{64}", v.detail.partition(";")[0]))
        assert lost == hashes


def _stop_sold_above_its_level(found: list[Violation], base: RunResult) -> None:
    v = found[0]
    price, stop = number(v.expected), number(v.expected, 1)
    assert price > stop, "the position was sold while the price was above its stop"
    assert v.found.startswith("stop_loss trade #")


def _interest_booked_under_its_cause(found: list[Violation], base: RunResult) -> None:
    interest = {bu.event_key: bu.quantity for bu in base.state.portfolio.balance_updates.values()
                if bu.cause == "interest"}
    assert interest and len(found) == len(interest)
    for v in found:
        assert v.expected.startswith("interest aUSDT at block ") and v.found.startswith("rebase aUSDT ")
        assert number(v.found) in interest.values()  # the right amount, under the wrong cause


def _reported_nav_is_the_cash(found: list[Violation], base: RunResult) -> None:
    v = found[0]
    assert v.at == "0s" and v.found.startswith("reported NAV ")
    first = base.state.stats[0]  # the first cycle trades the same with and without the bug
    assert number(v.found) == first.cash and abs(number(v.expected) - first.nav) <= Decimal("0.00001")


def _pnl_above_the_chains_profit(found: list[Violation], base: RunResult) -> None:
    v = found[0]
    gap = number(v.found) - number(v.expected)
    sold = sum((t.executed_reserve or Decimal(0) for t in base.state.portfolio.all_trades()
                if t.is_sell and t.status == "success" and t.executed_at == v.time), Decimal(0))
    assert 0 < gap < 2 * sold, "the cost basis added, not taken off: profit above the chain's by twice a cost"


def _deposit_after_reorg_booked(found: list[Violation], base: RunResult) -> None:
    [bob] = [bu for bu in base.state.portfolio.balance_updates.values() if bu.quantity == 2000]
    v = found[0]
    assert v.at == "2d" and v.expected == f"deposit at block {bob.block_number}" and v.found.startswith("not booked")
    assert bob.block_number <= number(v.found), "at a block number the runner says it synced"


def _reorged_trades_kept(found: list[Violation], base: RunResult) -> None:
    reversed_ = {bu.tx_hash for bu in base.state.portfolio.balance_updates.values() if bu.event_key.startswith("reorg:")}
    assert reversed_, "the unpatched runner reverses the trades the reorg removed"
    [v] = found
    kept = set(re.findall(r"0x[0-9a-f]{64}", v.detail.partition("settled but not on chain:")[2].partition(";")[0]))
    assert kept == reversed_ and number(v.found) - number(v.expected) == len(reversed_)


def _books_judged_when_the_runner_stops(found: list[Violation], base: RunResult) -> None:
    [v] = found
    assert v.at == "2d" and v.found.startswith("stETH ") and v.expected.startswith("stETH ")
    assert number(v.found) < number(v.expected), "a positive rebase booked as a negative one"
    [rebase] = [bu for bu in base.state.portfolio.balance_updates.values() if bu.cause == "rebase"
                and bu.timestamp == v.time]
    assert number(v.expected) - number(v.found) == 2 * rebase.quantity  # the true rebase, booked with its sign flipped


@dataclass(frozen=True)
class Case:
    invariant: InvariantName
    mutant: str
    scenario: str
    check: Check
    also: frozenset[str] = field(default_factory=frozenset)  # other invariants the same bug trips


CASES = (
    Case(InvariantName.booked_once, "sync-rebooks-seen-events", BOOKS, _rebooked_events_are_real),
    Case(InvariantName.chain_truth_nav, "valuation-buy-side", STOP_LOSS, _nav_overvalued),
    Case(InvariantName.costs_as_charged, "execution-lp-fee-unbooked", BOOKS, _lp_fee_of_the_pool),
    Case(InvariantName.fair_shares, "nav-post-cash-only", BOOKS, _deposit_gets_too_many_shares),
    Case(InvariantName.ledger_equals_chain, "sync-shares-as-assets", BOOKS, _shares_off_by_the_deposit),
    Case(InvariantName.nothing_unfinished, "repair-trusts-own-record", REPAIR, _never_sent_left_unfinished),
    Case(InvariantName.repair_idempotent, "repair-status-kept", REPAIR, _second_repair_changes_them,
         frozenset({"nothing-unfinished", "state-round-trip"})),  # the trades stay started; the file refuses to load
    Case(InvariantName.state_round_trip, "state-trailing-high-unsaved", TRIGGERS, _trailing_high_not_on_disk),
    Case(InvariantName.trades_match_chain, "repair-mined-as-failed", REPAIR, _mined_trades_lost,
         frozenset({"costs-as-charged", "ledger-equals-chain", "chain-truth-nav"})),  # a lost swap shows everywhere
    Case(InvariantName.triggers_fire, "trigger-stop-direction", STOP_LOSS, _stop_sold_above_its_level),
    # The gaps `make mutants` found in the oracle, closed: each must stay closed.
    Case(InvariantName.booked_once, "sync-interest-as-rebase", "scenarios/interest-accrual.yaml",
         _interest_booked_under_its_cause),
    Case(InvariantName.chain_truth_nav, "stats-nav-is-cash", BOOKS, _reported_nav_is_the_cash),
    Case(InvariantName.chain_truth_nav, "accounting-pnl-sign", BOOKS, _pnl_above_the_chains_profit),
    Case(InvariantName.booked_once, "sync-ignores-reorgs", REORG, _deposit_after_reorg_booked,
         frozenset({"trades-match-chain"})),  # a reorg it never sees: its vanished trades stay booked too
    Case(InvariantName.trades_match_chain, "repair-keeps-reorged-trades", REORG, _reorged_trades_kept),
    Case(InvariantName.ledger_equals_chain, "sync-rebase-sign", "scenarios/positive-rebase.yaml",
         _books_judged_when_the_runner_stops),  # the runner aborts on its own check: once a "stop", not a failure
)


def test_every_invariant_has_a_planted_bug() -> None:
    assert {c.invariant.value for c in CASES} == set(InvariantName) == set(names())
    for c in CASES:
        assert c.scenario in BY_ID[c.mutant].scenarios


@pytest.mark.parametrize("case", CASES, ids=[f"{c.invariant}:{c.mutant}" for c in CASES])
def test_invariant_catches_its_planted_bug(case: Case, chain_pool: ChainPool, tmp_path: Path,
                                           baseline: Callable[[str], RunResult],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    base = baseline(case.scenario)
    apply_in_process(BY_ID[case.mutant], monkeypatch.setattr)
    result = run(case.scenario, chain_pool, tmp_path)
    monkeypatch.undo()
    reported = {v.invariant for v in result.unexpected_violations}
    assert reported == {case.invariant.value, *case.also}
    found = [v for v in result.unexpected_violations if v.invariant == case.invariant]
    for v in found:
        text = str(v)
        assert f"invariant {case.invariant} violated at {v.at}" in text
        assert v.expected in text and v.found in text and v.expected != v.found
        assert NUMBER.search(v.expected) and NUMBER.search(v.found), f"both sides carry numbers: {text}"
    case.check(found, base)


def test_a_crashing_runner_carries_the_invariants_findings(chain_pool: ChainPool, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A correction booked with its sign flipped drives the ledger's NAV negative; the
    runner stops on it with NegativeNav, made here an error the runner does not handle
    (as the ABI encoder's ValueOutOfBounds was before NegativeNav existed): the run dies,
    and the error's notes say what the invariants had seen before (the ledger leaving the
    chain) and at the death."""

    class Unhandled(Exception):  # noqa: N818 - named for what the test makes of it
        def __init__(self, message: str, **where: object) -> None:
            super().__init__(message)

    apply_in_process(BY_ID["accounting-correction-sign"], monkeypatch.setattr)
    monkeypatch.setattr("runner.runner.NegativeNav", Unhandled)
    with pytest.raises(Unhandled) as info:
        run("scenarios/correction-mode-airdrop.yaml", chain_pool, tmp_path)
    notes = getattr(info.value, "__notes__", [])
    before = [n for n in notes if n.startswith("before the crash: invariant ledger-equals-chain violated at 2d ")]
    after = [n for n in notes if n.startswith("post-mortem: invariant ledger-equals-chain violated at ")]
    assert before and after
    ledger = number(after[0].partition("; ledger: ")[2])
    assert ledger < 0 < number(after[0].partition("; chain/rule: ")[2])  # WETH: the ledger went below zero


@pytest.mark.parametrize("scenario", sorted({c.scenario for c in CASES}))
def test_unpatched_runner_passes(scenario: str, baseline: Callable[[str], RunResult]) -> None:
    result = baseline(scenario)
    assert result.invariant_checks > 0
    assert result.unexpected_violations == []
    assert result.failed_expectations == [] and result.error is None


def test_broken_books_stop_the_runner_with_its_own_error(chain_pool: ChainPool, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A correction booked with its sign flipped drives the books' NAV below zero; the
    runner died of the ABI encoder's ValueOutOfBounds posting it (a traceback to the
    user). It must stop with NegativeNav, a RunnerError the run records, and the
    invariants must still have named the bug first."""
    apply_in_process(BY_ID["accounting-correction-sign"], monkeypatch.setattr)
    result = run("scenarios/correction-mode-airdrop.yaml", chain_pool, tmp_path)
    assert result.error_kind == "NegativeNav", (result.error_kind, result.error)
    assert "NAV is negative" in (result.error or "")
    assert InvariantName.chain_truth_nav in {v.invariant for v in result.violations}
