"""`TradeScan` (the one pass over the trades the checks of a point share) gives exactly
what the comprehensions it replaced give, and reads every trade anew at every point: an
old trade rewritten in place far back still shows at the next point."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from harness.invariants.core import SETTLED, TradeScan
from runner.state import BlockchainTransaction, State, TradeExecution, TradeStatus, TradingPosition
from runner.state.trade import UNFINISHED
from tests.statefiles import rich_states

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _expected_hashes(state: State) -> list[str]:
    return [t.blockchain_transactions[-1].tx_hash for pos in state.portfolio.all_positions()
            for t in pos.trades.values() if t.status in SETTLED and t.blockchain_transactions]


def _expected_unfinished(pos: TradingPosition) -> list[tuple[int, TradeExecution]]:
    return [(tid, t) for tid, t in pos.trades.items() if t.status in UNFINISHED]


def _state(seed: int) -> State:
    """A rich state with many trades of every status, some without a transaction, in open
    and closed positions."""
    rng = random.Random(seed)
    state = rich_states(T0)[-1]
    p = state.portfolio
    positions = list(p.all_positions())
    for pos in positions:
        for _ in range(rng.randrange(0, 30)):
            tid = p.next_trade_id
            p.next_trade_id += 1
            t = TradeExecution(tid, pos.position_id, pos.pair, T0, Decimal(1), Decimal(2), Decimal(2),
                               status=rng.choice(list(TradeStatus)))
            t.blockchain_transactions = [BlockchainTransaction(f"0x{rng.getrandbits(64):016x}", i, "a", "b", "swap", 1)
                                         for i in range(rng.randrange(0, 3))]
            pos.trades[tid] = t
    return state


def _same(scan: TradeScan, state: State) -> None:
    assert scan.settled_hashes() == _expected_hashes(state)
    for pos in state.portfolio.open_positions.values():
        got = scan.unfinished(pos)
        assert [(k, id(v)) for k, v in got.items()] == [(k, id(v)) for k, v in _expected_unfinished(pos)]


def test_the_scan_is_the_comprehensions_either_order() -> None:
    for seed in range(12):
        state = _state(seed)
        assert state.portfolio.open_positions and any(
            t.status in UNFINISHED for pos in state.portfolio.open_positions.values() for t in pos.trades.values())
        _same(TradeScan(state), state)  # the hashes first (booked-once before state-round-trip)
        scan = TradeScan(state)
        for pos in state.portfolio.open_positions.values():  # the unfinished trades first (a trigger point)
            assert list(scan.unfinished(pos).items()) == _expected_unfinished(pos)
        assert scan.settled_hashes() == _expected_hashes(state)


def _settled(state: State) -> list[TradeExecution]:
    return [t for pos in state.portfolio.all_positions() for t in pos.trades.values()
            if t.status in SETTLED and t.blockchain_transactions]


def test_an_old_trade_rewritten_in_place_shows_at_the_next_point() -> None:
    """What an incremental check would miss: the first settled trade ever, rewritten to
    carry the newest one's transaction, and a final trade turned unfinished again."""
    state = _state(3)
    before = TradeScan(state).settled_hashes()
    assert len(set(before)) == len(before)
    oldest, newest = _settled(state)[0], _settled(state)[-1]
    oldest.blockchain_transactions[-1].tx_hash = newest.blockchain_transactions[-1].tx_hash
    after = TradeScan(state).settled_hashes()  # the next point's pass
    assert len(set(after)) == len(after) - 1 and after == _expected_hashes(state)
    pos = next(pos for pos in state.portfolio.open_positions.values()
               if any(t.status == TradeStatus.success for t in pos.trades.values()))
    final = next(t for t in pos.trades.values() if t.status == TradeStatus.success)
    final.status = TradeStatus.broadcasted
    assert final.trade_id in TradeScan(state).unfinished(pos)
