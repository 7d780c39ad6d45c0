"""The segmented store: saves cost what changed, loads give back the exact state."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from runner.state import (
    BalanceUpdate,
    BalanceUpdateCause,
    CycleStatistics,
    SegmentedStateStore,
    State,
    StateFormatError,
    encode_state,
    open_store,
)


def _funded(t0: datetime) -> State:
    """A new state whose reserve holds a booked deposit (cash never appears from nowhere)."""
    state = State.new("seg", "USDC", t0, 6)
    state.portfolio.add_balance_update(BalanceUpdate(
        0, BalanceUpdateCause.deposit, "USDC", Decimal(100_000), Decimal(0), Decimal(100_000), 1, t0, "d:1"), None)
    return state


def _cycle(state: State, t0: datetime, c: int) -> None:
    """One cycle of activity: a settled buy, a statistics row, an unfinished buy on the last cycle."""
    p = state.portfolio
    ts = t0 + timedelta(days=c)
    pos = p.open_position_for("WETH/USDC") or p.open_position("WETH/USDC", "WETH", ts)
    trade = p.create_trade(pos, ts, Decimal("0.01"), Decimal("20"), Decimal("2000"))
    p.start_trade(trade, ts)
    p.settle_success(trade, ts, Decimal("0.0099"), Decimal("20"), Decimal("0.06"))
    state.stats.append(CycleStatistics(c, ts, Decimal(1000 + c), Decimal(c), Decimal(1000), 1))
    state.cycle = c


class TestSegmentedStore:
    def test_round_trip_after_many_saves(self, tmp_path: Path, t0: datetime) -> None:
        """Loading after incremental saves gives a state equal to the one saved, byte for byte."""
        store = SegmentedStateStore(tmp_path / "state.json")
        state = _funded(t0)
        for c in range(40):
            _cycle(state, t0, c)
            if c == 20:
                p = state.portfolio
                p.close_position(p.open_position_for("WETH/USDC"), t0, "strategy")  # type: ignore[arg-type]
            store.save(state)
        pending = state.portfolio.create_trade(
            state.portfolio.open_position_for("WETH/USDC"), t0, Decimal(1), Decimal(1), Decimal(1))  # type: ignore[arg-type]
        state.portfolio.start_trade(pending, t0)
        store.save(state)
        loaded = open_store(tmp_path / "state.json").load()
        assert encode_state(loaded) == encode_state(state)

    def test_save_writes_what_changed_not_the_history(self, tmp_path: Path, t0: datetime) -> None:
        """The bytes written by one save do not grow with the number of cycles already saved."""
        store = SegmentedStateStore(tmp_path / "state.json")
        state = _funded(t0)
        per_save = []
        for c in range(300):
            _cycle(state, t0, c)
            before = store.bytes_written
            store.save(state)
            per_save.append(store.bytes_written - before)
        assert per_save[-1] <= per_save[10] * 1.2

    def test_uncommitted_appends_are_ignored_and_cut(self, tmp_path: Path, t0: datetime) -> None:
        """Bytes appended by a save that died before its state file was replaced do not load."""
        store = SegmentedStateStore(tmp_path / "state.json")
        state = _funded(t0)
        _cycle(state, t0, 0)
        store.save(state)
        with open(store.segment_path("stats"), "ab") as f:
            f.write(b'{"torn": tru')
        loaded = open_store(tmp_path / "state.json").load()
        assert len(loaded.stats) == 1
        fresh = open_store(tmp_path / "state.json")
        again = fresh.load()
        _cycle(again, t0, 1)
        fresh.save(again)
        assert len(open_store(tmp_path / "state.json").load().stats) == 2

    def test_missing_segment_is_reported(self, tmp_path: Path, t0: datetime) -> None:
        """A segment shorter than the state file says is a format error, not a silent loss."""
        store = SegmentedStateStore(tmp_path / "state.json")
        state = _funded(t0)
        _cycle(state, t0, 0)
        store.save(state)
        os.truncate(store.segment_path("stats"), 3)
        with pytest.raises(StateFormatError, match=r"stats\.1\.jsonl: truncated"):
            open_store(tmp_path / "state.json").load()
