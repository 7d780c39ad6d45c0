"""A state store whose save cost follows what changed, not how long the history is.

A ten-year daily run accumulates tens of thousands of statistics rows, accounting checks,
balance updates and settled trades; rewriting all of them at every save made a save cost
~170 ms at 3,650 cycles. History never changes once written, so it goes to append-only
segment files, and only the live part of the state is rewritten:

    state.json                 hot: everything still changing, plus each segment's committed
                               length; replaced atomically (temp file, fsync, rename)
    state.json.d/stats.jsonl   cold: one JSON document per line, appended, fsync'd
    state.json.d/checks.jsonl, balance_updates.jsonl, closed_positions.jsonl, trades.jsonl

Crash safety: segments are appended first, the hot file (with the new lengths) is
replaced last. A run killed in between leaves appended bytes beyond the committed length:
they are ignored on load and cut off before the next append, so the state on disk is
always the last complete save. Settled trades move to `trades.jsonl`; a trade is final
once it is success, failed or repaired, and the runner never edits a final trade.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import msgspec

from runner.state.accounting import AccountingCheck
from runner.state.balance_update import BalanceUpdate
from runner.state.position import TradingPosition
from runner.state.serialization import StateFormatError, decode_state
from runner.state.state import State
from runner.state.statistics import CycleStatistics
from runner.state.store import StateStore, atomic_write
from runner.state.trade import TradeExecution

FORMAT = "segmented-1"
_enc = msgspec.json.Encoder(decimal_format="string")


class _SettledTrade(msgspec.Struct):
    position_id: int
    trade: TradeExecution


_DECODERS: dict[str, Any] = {
    "stats": msgspec.json.Decoder(CycleStatistics),
    "checks": msgspec.json.Decoder(AccountingCheck),
    "balance_updates": msgspec.json.Decoder(BalanceUpdate),
    "closed_positions": msgspec.json.Decoder(TradingPosition),
    "trades": msgspec.json.Decoder(_SettledTrade),
}
SEGMENTS = tuple(_DECODERS)


class _Hot(msgspec.Struct):
    format: str
    segments: dict[str, list[int]]  # name -> [committed byte length, item count]
    state: msgspec.Raw


@dataclass
class _Saved:
    """What the files already hold, so a save writes only what is new."""

    lengths: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEGMENTS, 0))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEGMENTS, 0))
    closed: set[int] = field(default_factory=set)
    final_trades: set[int] = field(default_factory=set)
    max_trade_id: int = 0  # every trade up to this id was seen by a save
    unfinished: set[int] = field(default_factory=set)  # ...and these were not final then


class SegmentedStateStore(StateStore):
    """`state.json` plus append-only history segments; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        super().__init__(path, fsync=fsync)
        self.dir = self.path.with_name(self.path.name + ".d")
        self._saved = _Saved()
        self.bytes_written = 0

    # -- writing -----------------------------------------------------------------
    def _new_items(self, state: State) -> dict[str, list[bytes]]:
        saved = self._saved
        p = state.portfolio
        out: dict[str, list[bytes]] = {name: [] for name in SEGMENTS}
        out["stats"] = [_enc.encode(x) for x in state.stats[saved.counts["stats"]:]]
        out["checks"] = [_enc.encode(x) for x in state.accounting_checks[saved.counts["checks"]:]]
        updates = list(p.balance_updates.values())
        out["balance_updates"] = [_enc.encode(x) for x in updates[saved.counts["balance_updates"]:]]
        for pid, pos in p.closed_positions.items():
            if pid not in saved.closed:
                out["closed_positions"].append(_enc.encode(pos))
        for pid, pos in p.open_positions.items():
            for tid in self._candidates(pos):
                trade = pos.trades[tid]
                if tid not in saved.final_trades and not trade.is_unfinished:
                    out["trades"].append(_enc.encode(_SettledTrade(pid, trade)))
        return out

    def _candidates(self, pos: TradingPosition) -> list[int]:
        """Trades that may have become final since the last save: newer than any it saw,
        or unfinished then. Trade ids only grow, so the walk stops at the first old one."""
        saved = self._saved
        fresh = []
        for tid in reversed(pos.trades):
            if tid <= saved.max_trade_id:
                break
            fresh.append(tid)
        fresh.extend(t for t in saved.unfinished if t in pos.trades)
        return sorted(set(fresh))

    def _append(self, name: str, lines: list[bytes]) -> None:
        path = self.dir / f"{name}.jsonl"
        committed = self._saved.lengths[name]
        if not lines and (not path.exists() or path.stat().st_size == committed):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, committed)  # drop bytes of a save that never committed
            os.lseek(fd, committed, os.SEEK_SET)
            data = b"".join(line + b"\n" for line in lines)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self.bytes_written += len(data)

    def save(self, state: State) -> None:
        self.saves += 1
        new = self._new_items(state)
        lengths = dict(self._saved.lengths)
        counts = dict(self._saved.counts)
        for name, lines in new.items():
            if lines:
                self._point(f"save: append {name}")
            self._append(name, lines)
            lengths[name] += sum(len(line) + 1 for line in lines)
            counts[name] += len(lines)
        self._point("save: replace the live file")
        hot = self._encode_hot(state, new)
        doc = _enc.encode(_Hot(FORMAT, {n: [lengths[n], counts[n]] for n in SEGMENTS}, msgspec.Raw(hot)))
        if self.fsync:
            atomic_write(self.path, doc)
        else:
            tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
            tmp.write_bytes(doc)
            os.replace(tmp, self.path)
        self.bytes_written += len(doc)
        self._commit(state, lengths, counts)

    def _encode_hot(self, state: State, new: dict[str, list[bytes]]) -> bytes:
        """The state without its history: cold collections swapped out while encoding."""
        p = state.portfolio
        stash = (state.stats, state.accounting_checks, p.balance_updates, p.closed_positions)
        trades = {pid: pos.trades for pid, pos in p.open_positions.items()}
        settled = self._saved.final_trades
        try:
            state.stats, state.accounting_checks, p.balance_updates, p.closed_positions = [], [], {}, {}
            for pos in p.open_positions.values():
                pos.trades = {tid: t for tid, t in pos.trades.items() if t.is_unfinished and tid not in settled}
            return _enc.encode(state)
        finally:
            state.stats, state.accounting_checks, p.balance_updates, p.closed_positions = stash
            for pid, pos in p.open_positions.items():
                pos.trades = trades[pid]

    def _commit(self, state: State, lengths: dict[str, int], counts: dict[str, int]) -> None:
        saved = self._saved
        saved.lengths, saved.counts = lengths, counts
        saved.closed.update(state.portfolio.closed_positions)
        for pos in state.portfolio.open_positions.values():
            for tid in self._candidates(pos):
                if pos.trades[tid].is_unfinished:
                    saved.unfinished.add(tid)
                else:
                    saved.final_trades.add(tid)
                    saved.unfinished.discard(tid)
        saved.max_trade_id = state.portfolio.next_trade_id - 1

    # -- reading -----------------------------------------------------------------
    def load(self) -> State:
        raw = self.path.read_bytes()
        try:
            hot = msgspec.json.decode(raw, type=_Hot)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return decode_state(raw, str(self.path))  # a plain single-file state
        if hot.format != FORMAT:
            raise StateFormatError(f"{self.path}: unknown state format {hot.format!r}")
        state = decode_state(bytes(hot.state), str(self.path))
        saved = _Saved()
        items: dict[str, list[Any]] = {}
        for name in SEGMENTS:
            length, count = hot.segments.get(name, [0, 0])
            items[name] = self._read_segment(name, length, count)
            saved.lengths[name], saved.counts[name] = length, count
        p = state.portfolio
        state.stats = items["stats"]
        state.accounting_checks = items["checks"]
        p.balance_updates = {u.balance_update_id: u for u in items["balance_updates"]}
        p.closed_positions = {pos.position_id: pos for pos in items["closed_positions"]}
        for settled in items["trades"]:
            pos = p.open_positions.get(settled.position_id)
            if pos is not None:  # a later close carries the position's whole history
                pos.trades[settled.trade.trade_id] = settled.trade
                saved.final_trades.add(settled.trade.trade_id)
        for pos in p.open_positions.values():
            pos.trades = dict(sorted(pos.trades.items()))
            saved.unfinished.update(tid for tid, t in pos.trades.items() if t.is_unfinished)
        saved.max_trade_id = p.next_trade_id - 1
        saved.closed.update(p.closed_positions)
        self._saved = saved
        return state

    def _read_segment(self, name: str, length: int, count: int) -> list[Any]:
        if count == 0:
            return []
        path = self.dir / f"{name}.jsonl"
        with open(path, "rb") as f:
            data = f.read(length)
        lines = data.splitlines()
        if len(data) != length or len(lines) != count:
            raise StateFormatError(f"{path}: {len(lines)} committed records, the state file says {count}")
        decoder = _DECODERS[name]
        return [decoder.decode(line) for line in lines]


def open_store(path: str | os.PathLike[str], *, fsync: bool = True) -> StateStore:
    """The store for a state file, whichever format it was written in."""
    return SegmentedStateStore(path, fsync=fsync)


__all__ = ["FORMAT", "SegmentedStateStore", "open_store"]
