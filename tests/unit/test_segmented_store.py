"""The segmented store: saves cost what changed, loads give back the exact state."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


def _forty_cycles(state: State, t0: datetime) -> Iterator[int]:
    """Forty cycles of activity, the position closed at the 21st; yields after each."""
    for c in range(40):
        _cycle(state, t0, c)
        if c == 20:
            p = state.portfolio
            p.close_position(p.open_position_for("WETH/USDC"), t0, "strategy")  # type: ignore[arg-type]
        yield c


class TestSegmentedStore:
    def test_round_trip_after_many_saves(self, tmp_path: Path, t0: datetime) -> None:
        """Loading after incremental saves gives a state equal to the one saved, byte for byte."""
        store = SegmentedStateStore(tmp_path / "state.json")
        state = _funded(t0)
        for _ in _forty_cycles(state, t0):
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


class TestReload:
    """`reload` follows another writer's saves reading only what they appended."""

    def test_follows_every_save_exactly(self, tmp_path: Path, t0: datetime) -> None:
        """After each of 40 saves (a position closed midway), the follower's reload equals a
        fresh full load and the state saved, and its tails end where the last save did."""
        path = tmp_path / "state.json"
        writer, follower = SegmentedStateStore(path), SegmentedStateStore(path)
        state = _funded(t0)
        for _ in _forty_cycles(state, t0):
            writer.save(state)
            assert encode_state(follower.reload()) == encode_state(open_store(path).load()) == encode_state(state)
        tails = follower._followed.tails  # type: ignore[union-attr]
        assert tails["stats"].count == 40 and tails["closed_positions"].count == 1

    def test_a_new_generation_is_read_whole(self, tmp_path: Path, t0: datetime) -> None:
        """A writer that starts a new generation (a new run into the directory) is not
        appended to the old history: the follower reads the new one whole."""
        path = tmp_path / "state.json"
        follower = SegmentedStateStore(path)
        first = _funded(t0)
        for c in range(5):
            _cycle(first, t0, c)
        SegmentedStateStore(path).save(first)
        assert len(follower.reload().stats) == 5
        second = _funded(t0)
        _cycle(second, t0, 0)
        SegmentedStateStore(path).save(second)  # a store that never loaded: a new generation
        again = follower.reload()
        assert len(again.stats) == 1 and encode_state(again) == encode_state(second)

    def test_a_damaged_appended_record_is_still_caught(self, tmp_path: Path, t0: datetime) -> None:
        """A record appended after the last reload and then changed on disk fails the
        reload's checksum check, as it fails a full load."""
        path = tmp_path / "state.json"
        writer, follower = SegmentedStateStore(path), SegmentedStateStore(path)
        state = _funded(t0)
        _cycle(state, t0, 0)
        writer.save(state)
        follower.reload()
        _cycle(state, t0, 1)
        writer.save(state)
        seg = writer.segment_path("stats")
        data = seg.read_bytes()
        at = data.rindex(b"1001")  # the new row's NAV
        seg.write_bytes(data[:at] + b"9001" + data[at + 4:])
        with pytest.raises(StateFormatError, match=r"stats\.1\.jsonl: record 2 \(line 2\): damaged: checksum"):
            follower.reload()

    def test_a_new_record_out_of_range_is_still_caught(self, tmp_path: Path, t0: datetime) -> None:
        """Amounts of what a reload reads for the first time are range-checked: a NaN NAV
        saved after the last reload is refused, naming its record."""
        path = tmp_path / "state.json"
        writer, follower = SegmentedStateStore(path), SegmentedStateStore(path)
        state = _funded(t0)
        _cycle(state, t0, 0)
        writer.save(state)
        follower.reload()
        state.stats.append(CycleStatistics(1, t0, Decimal("NaN"), Decimal(0), Decimal(1000), 1))
        writer.save(state)
        with pytest.raises(StateFormatError, match=r"stats\.1\.jsonl: record 2"):
            follower.reload()
