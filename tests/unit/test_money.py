"""Money is exact: the books add up amounts of any length, estimates keep their 28 digits.

The amounts are fuzz seed 1, run 81's (scenarios/regressions/crash-stateinvarianterror-s1-r81.yaml):
two buys of a 24-decimal token whose sum, 11273.275476299586960574328769, is 29 digits.
Python's default context rounded the running position to 28 and the state no longer
agreed with its own trades.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from functools import cached_property
from pathlib import Path

import pytest

from runner import accounting, repair
from runner.models import sync
from runner.models.execution import ExecutionModel
from runner.models.pricing import PricingModel
from runner.models.sync import VaultSyncModel
from runner.money import EXACT, ROUNDED, books, exact, floor, pinned_to, rounded, total
from runner.state import (
    BalanceUpdate,
    BalanceUpdateCause,
    Portfolio,
    State,
    StateInvariantError,
    open_store,
)
from runner.state.position import ReservePosition, TradingPosition
from runner.strategy.position_manager import PositionManager
from runner.universe import Token

D = Decimal
FIRST, SECOND = D("8264.387120662935186162871027"), D("3008.888355636651774411457742")
HELD = D("11273.275476299586960574328769")  # FIRST + SECOND: 29 digits
MKR = Token("MKR", b"\x01" * 20, 24)
DAI = Token("DAI", b"\x02" * 20, 18)


def _deposit(s: State, amount: Decimal, ts: datetime) -> None:
    old = s.portfolio.reserve.quantity
    with exact():
        new = old + amount
    s.portfolio.add_balance_update(BalanceUpdate(
        balance_update_id=0, cause=BalanceUpdateCause.deposit, asset=s.portfolio.reserve.asset, quantity=amount,
        old_balance=old, new_balance=new, block_number=1, timestamp=ts, event_key=f"deposit:{amount}"), None)


def _buy(s: State, quantity: Decimal, reserve: Decimal, ts: datetime) -> None:
    p = s.portfolio
    pos = p.open_position_for("MKR/USDC") or p.open_position("MKR/USDC", "MKR", ts)
    trade = p.create_trade(pos, ts, quantity, reserve, D("6.5"))
    p.start_trade(trade, ts)
    p.settle_success(trade, ts, quantity, reserve, D(0))


class TestContexts:
    def test_the_default_context_rounds_what_the_books_need(self) -> None:
        """The bug, in two lines: 28 digits drop the 29th of a 24-decimal sum."""
        assert FIRST + SECOND != HELD
        assert total([FIRST, SECOND]) == HELD

    def test_exact_refuses_to_round(self) -> None:
        """A division in the books that forgot `rounded()` raises instead of rounding."""
        with exact(), pytest.raises(Inexact):
            D(1) / 3
        with exact():
            assert HELD.copy_negate() == -HELD and abs(-HELD) == HELD  # unary operators too

    def test_rounded_is_the_default_context_whatever_the_callers(self) -> None:
        with localcontext(Context(prec=60)), rounded():
            assert D(1) / 3 == Context(prec=28).divide(D(1), D(3))

    def test_floor_quantizes_any_length(self) -> None:
        amount = total([D(2**96).scaleb(-24, EXACT), D("1e-30")])  # 29 digits and a fraction of a unit
        with pytest.raises(InvalidOperation):
            amount.quantize(MKR.unit)
        assert floor(amount, MKR.unit) == MKR.from_units(2**96)

    def test_a_pinned_generator_runs_its_steps_exactly_and_leaves_its_consumer_alone(self) -> None:
        @books
        def steps() -> Iterator[Decimal]:
            yield FIRST + SECOND
            yield FIRST + SECOND

        seen = []
        for value in steps():
            seen.append(value)
            assert FIRST + SECOND != HELD  # the consumer's own context between the steps
        assert seen == [HELD, HELD]


class TestTokens:
    @pytest.mark.parametrize("token", [MKR, DAI], ids=["24 decimals", "18 decimals"])
    def test_2_96_base_units_convert_both_ways_exactly(self, token: Token) -> None:
        units = 2**96 - 1
        amount = token.from_units(units)
        assert amount == D(units).scaleb(-token.decimals, EXACT)
        assert token.to_units(amount) == units
        assert token.quantize(amount) == amount
        assert token.to_units(total([amount, token.unit.scaleb(-1)])) == units  # rounded down, never up


class TestBooks:
    def test_a_position_is_the_exact_sum_of_its_trades(self, t0: datetime, tmp_path: Path) -> None:
        """Fuzz seed 1, run 81: the position, its trades and the reserve agree to the unit,
        and the saved state loads (the integrity check adds up the same trades)."""
        s = State.new("s", "USDC", t0, 6)
        _deposit(s, D("200000.000000"), t0)
        _buy(s, FIRST, D("60000.000000"), t0)
        _buy(s, SECOND, D("21914.087781"), t0)
        pos = s.portfolio.open_positions[1]
        assert pos.quantity == HELD == pos.recomputed_quantity()
        store = open_store(tmp_path / "state.json", fsync=False)
        store.save(s)
        assert open_store(tmp_path / "state.json").load().portfolio.open_positions[1].quantity == HELD

    def test_a_rounded_position_is_refused_on_load(self, t0: datetime, tmp_path: Path) -> None:
        """What the runner wrote before the fix does not load: the check is what found it."""
        s = State.new("s", "USDC", t0, 6)
        _deposit(s, D("200000.000000"), t0)
        _buy(s, FIRST, D("60000.000000"), t0)
        _buy(s, SECOND, D("21914.087781"), t0)
        s.portfolio.open_positions[1].quantity = FIRST + SECOND  # the default context's sum
        open_store(tmp_path / "state.json", fsync=False).save(s)
        with pytest.raises(StateInvariantError, match="add up to 11273.275476299586960574328769"):
            open_store(tmp_path / "state.json").load()

    def test_selling_a_29_digit_position_leaves_nothing(self, t0: datetime) -> None:
        s = State.new("s", "USDC", t0, 6)
        _deposit(s, D("200000.000000"), t0)
        _buy(s, FIRST, D("60000.000000"), t0)
        _buy(s, SECOND, D("21914.087781"), t0)
        p = s.portfolio
        pos = p.open_positions[1]
        sell = p.create_trade(pos, t0, HELD.copy_negate(), D("70000.000000"), D("6.2"))  # -HELD would round
        p.start_trade(sell, t0)
        p.settle_success(sell, t0, HELD.copy_negate(), D("70000.000000"), D(0))
        assert pos.quantity == 0
        assert p.cash() == D("188085.912219")

    def test_estimates_keep_their_28_digits(self, t0: datetime) -> None:
        """Prices and P&L are made as they always were, whatever the caller's context:
        the snapshots of every scenario stay byte for byte."""
        s = State.new("s", "USDC", t0, 6)
        _deposit(s, D("200000.000000"), t0)
        with localcontext(Context(prec=60)):
            _buy(s, FIRST, D("60000.000000"), t0)
        trade = s.portfolio.open_positions[1].trades[1]
        assert trade.executed_price == Context(prec=28).divide(D("60000.000000"), FIRST)

    def test_a_balance_update_must_move_the_balance_it_names(self, t0: datetime) -> None:
        """An update whose new balance was added up where digits round is refused, and
        nothing moves."""
        s = State.new("s", "USDC", t0, 6)
        p = s.portfolio
        pos = p.open_position("MKR/USDC", "MKR", t0)
        _buy(s, FIRST, D(0), t0)
        rounded_sum = FIRST + SECOND
        update = BalanceUpdate(balance_update_id=0, cause=BalanceUpdateCause.rebase, asset="MKR", quantity=SECOND,
                               old_balance=FIRST, new_balance=rounded_sum, block_number=2, timestamp=t0,
                               event_key="0xab:0")
        with pytest.raises(ValueError, match="not their exact sum"):
            p.add_balance_update(update, pos)
        assert pos.quantity == FIRST and not p.balance_updates
        update.new_balance = HELD
        p.add_balance_update(update, pos)
        assert pos.quantity == HELD


def _members(cls: type) -> list[tuple[str, object]]:
    return [(name, m) for name, m in vars(cls).items()
            if not (name.startswith("__") and name.endswith("__"))
            and (inspect.isfunction(m) or isinstance(m, property | staticmethod | classmethod | cached_property))]


class TestPinned:
    """The books cannot forget their context: each class that holds or moves money runs
    every method it has, and every one added later, in EXACT; the pricing model in
    ROUNDED. Take a decorator away and this fails."""

    @pytest.mark.parametrize("cls", [Portfolio, TradingPosition, ReservePosition, Token, PositionManager,
                                     VaultSyncModel, ExecutionModel], ids=lambda c: c.__name__)
    def test_every_method_of_the_books_is_exact(self, cls: type) -> None:
        members = _members(cls)
        assert members
        assert [name for name, m in members if pinned_to(m) is not EXACT] == []

    def test_the_pricing_model_estimates(self) -> None:
        assert [name for name, m in _members(PricingModel) if pinned_to(m) is not ROUNDED] == []

    @pytest.mark.parametrize("fn", [
        accounting.ledger_balances, accounting.verdict_for, accounting.run_check, accounting.apply_corrections,
        repair.repair_unfinished, repair.signed_shares, repair.reverse_vanished_events, repair.recheck_after_reorg,
        sync._reserve_flow,
    ], ids=lambda f: f.__qualname__)
    def test_the_bookings_are_exact(self, fn: object) -> None:
        assert pinned_to(fn) is EXACT

    def test_every_invariant_of_the_harness_judges_exactly(self) -> None:
        """A check compares money to the last digit, and says how its divisions round."""
        import harness.invariants  # noqa: F401  (registers them)
        from harness.invariants.core import REGISTRY
        from harness.truth import ChainTruth

        assert REGISTRY and [name for name, inv in REGISTRY.items() if pinned_to(inv.check) is not EXACT] == []
        assert pinned_to(ChainTruth.mid_price) is ROUNDED
