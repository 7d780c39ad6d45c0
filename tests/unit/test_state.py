"""The state model: lifecycle rules, exact JSON round trips, atomic saves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from runner.state import (
    BalanceUpdate,
    BalanceUpdateCause,
    State,
    StateFormatError,
    StateStore,
    TradeStatus,
    decode_state,
    encode_state,
    open_store,
)


def _deposit(s: State, amount: Decimal, ts: datetime, key: str = "deposit:0") -> None:
    """Cash enters the reserve as the runner books it: a deposit balance update."""
    old = s.portfolio.reserve.quantity
    s.portfolio.add_balance_update(BalanceUpdate(
        balance_update_id=0, cause=BalanceUpdateCause.deposit, asset=s.portfolio.reserve.asset,
        quantity=amount, old_balance=old, new_balance=old + amount, block_number=1, timestamp=ts,
        event_key=key), None)


def _state(t0: datetime) -> State:
    s = State.new("s", "USDC", t0, 6)
    _deposit(s, Decimal("1000.000001"), t0)
    return s


class TestTradeLifecycle:
    def test_buy_moves_capital_at_start_and_books_fill_on_success(self, t0: datetime) -> None:
        """Capital leaves the reserve when a buy starts; the fill sets quantity, price and slippage."""
        s = _state(t0)
        p = s.portfolio
        pos = p.open_position("WETH/USDC", "WETH", t0)
        trade = p.create_trade(pos, t0, Decimal("0.5"), Decimal("1000"), Decimal("2000"))
        assert trade.status == TradeStatus.planned and p.cash() == Decimal("1000.000001")
        p.start_trade(trade, t0)
        assert p.cash() == Decimal("0.000001")
        assert p.nav() == Decimal("1000.000001")  # capital in flight still counts
        p.settle_success(trade, t0, Decimal("0.49"), Decimal("1000"), Decimal("3"))
        assert pos.quantity == Decimal("0.49")
        assert trade.executed_price == Decimal("1000") / Decimal("0.49")
        assert trade.slippage is not None and trade.slippage > 0  # paid more per unit than planned

    def test_failed_trade_returns_capital_and_leaves_holdings(self, t0: datetime) -> None:
        """A failure gives the buy's capital back and changes no quantity."""
        s = _state(t0)
        p = s.portfolio
        pos = p.open_position("WETH/USDC", "WETH", t0)
        trade = p.create_trade(pos, t0, Decimal("0.5"), Decimal("1000"), Decimal("2000"))
        p.start_trade(trade, t0)
        p.settle_failure(trade, t0, "SLIPPAGE")
        assert (p.cash(), pos.quantity, trade.failure_reason) == (
            Decimal("1000.000001"),
            0,
            "SLIPPAGE",
        )

    def test_repair_restores_reserve_with_a_counter_entry(self, t0: datetime) -> None:
        """Repairing a started buy books a repair trade that returns exactly its capital."""
        s = _state(t0)
        p = s.portfolio
        pos = p.open_position("WETH/USDC", "WETH", t0)
        trade = p.create_trade(pos, t0, Decimal("0.5"), Decimal("400"), Decimal("2000"))
        p.start_trade(trade, t0)
        counter = p.repair_trade(trade, t0 + timedelta(hours=1), "dropped")
        assert (
            trade.status == TradeStatus.repaired and trade.repaired_by_trade_id == counter.trade_id
        )
        assert counter.repaired_trade_id == trade.trade_id and counter.executed_reserve == Decimal(
            "400"
        )
        assert p.cash() == Decimal("1000.000001")

    def test_sell_realises_pnl_against_cost_basis(self, t0: datetime) -> None:
        """Selling half a position realises half its cost basis."""
        s = _state(t0)
        p = s.portfolio
        pos = p.open_position("WETH/USDC", "WETH", t0)
        buy = p.create_trade(pos, t0, Decimal("1"), Decimal("1000"), Decimal("1000"))
        p.start_trade(buy, t0)
        p.settle_success(buy, t0, Decimal("1"), Decimal("1000"), Decimal("3"))
        sell = p.create_trade(pos, t0, Decimal("-0.5"), Decimal("600"), Decimal("1200"))
        p.start_trade(sell, t0)
        p.settle_success(sell, t0, Decimal("-0.5"), Decimal("600"), Decimal("1.8"))
        assert pos.realised_pnl == Decimal("100") and pos.cost_basis == Decimal("500")
        assert pos.recomputed_quantity() == pos.quantity == Decimal("0.5")


class TestJsonRoundTrip:
    def test_every_field_survives_exactly(self, t0: datetime) -> None:
        """A state with trades, updates and odd decimals decodes to an equal object."""
        s = _state(t0)
        p = s.portfolio
        pos = p.open_position("WETH/USDC", "WETH", t0)
        trade = p.create_trade(
            pos,
            t0,
            Decimal("0.123456789012345678"),
            Decimal("246.913578"),
            Decimal("2000.0000000001"),
        )
        p.start_trade(trade, t0)
        p.settle_success(
            trade, t0, Decimal("0.123456789012345677"), Decimal("246.913578"), Decimal("0.740740")
        )
        p.add_balance_update(
            BalanceUpdate(
                balance_update_id=0,
                cause=BalanceUpdateCause.rebase,
                asset="WETH",
                quantity=Decimal("1E-18"),
                old_balance=pos.quantity,
                new_balance=pos.quantity + Decimal("1E-18"),
                block_number=7,
                timestamp=t0,
                event_key="0xab:1",
            ),
            pos,
        )
        data = encode_state(s, pretty=True)
        back = decode_state(data)
        assert back == s
        assert encode_state(back, pretty=True) == data
        assert isinstance(back.portfolio.open_positions[1].trades[1].executed_quantity, Decimal)

    def test_wrong_schema_version_is_refused(self, t0: datetime) -> None:
        """A state file from another schema version fails with a clear message."""
        data = encode_state(_state(t0)).replace(b'"schema_version":1', b'"schema_version":99')
        with pytest.raises(StateFormatError, match="schema_version 99"):
            decode_state(data, "x.json")

    def test_torn_file_is_refused_not_half_read(self, t0: datetime) -> None:
        """Half a state file is reported as invalid, never loaded as a partial state."""
        data = encode_state(_state(t0))
        with pytest.raises(StateFormatError, match="x.json"):
            decode_state(data[: len(data) // 2], "x.json")


WRITER = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    from decimal import Decimal
    from runner.state import (State, StateStore, SegmentedStateStore, CycleStatistics, BalanceUpdate,
                              BalanceUpdateCause)
    store = (SegmentedStateStore if sys.argv[2] == "segmented" else StateStore)(sys.argv[1])
    s = State.new("kill", "USDC", datetime(2024, 1, 1, tzinfo=timezone.utc), 6)
    s.parameters["pad"] = "x" * 200_000
    i = 0
    while True:
        i += 1
        s.cycle = i
        s.portfolio.add_balance_update(BalanceUpdate(0, BalanceUpdateCause.deposit, "USDC", Decimal(1),
            Decimal(i - 1), Decimal(i), i, s.created_at, f"deposit:{i}"), None)
        s.stats.append(CycleStatistics(i, s.created_at, Decimal(i), Decimal(i), Decimal(0), 0))
        store.save(s)
        if i == 3:
            print("ready", flush=True)
""")


class TestAtomicSave:
    @pytest.mark.parametrize("kind", ["single-file", "segmented"])
    def test_kill_mid_write_leaves_the_last_complete_state(self, tmp_path: Path, kind: str) -> None:
        """SIGKILL during a stream of saves never leaves a torn or empty state file."""
        path = tmp_path / "state.json"
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), kind], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = open_store(path).load()
        assert state.cycle >= 3
        assert state.portfolio.reserve.quantity == Decimal(state.cycle)
        assert [x.cycle for x in state.stats] == list(range(1, state.cycle + 1))

    def test_save_replaces_atomically(self, tmp_path: Path, t0: datetime) -> None:
        """No temporary file is left behind and the file loads back equal."""
        store = StateStore(tmp_path / "s.json")
        s = _state(t0)
        store.save(s)
        store.save(s)
        assert store.load() == s
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
