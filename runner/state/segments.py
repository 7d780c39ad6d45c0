"""A state store whose save cost follows what changed, not how long the history is.

A ten-year daily run accumulates tens of thousands of statistics rows, accounting checks,
balance updates and settled trades; rewriting all of them at every save made a save cost
~170 ms at 3,650 cycles. History never changes once written, so it goes to append-only
segment files, and only the live part of the state is rewritten:

    state.json                    live: everything still changing, plus each segment's committed
                                  length, record count and chain tip; sealed by a SHA-256 of its
                                  bytes; replaced atomically (temp file, fsync, rename)
    state.json.d/stats.G.jsonl    history: one checksummed record a line, appended, fsync'd
    state.json.d/checks.G.jsonl, balance_updates.G.jsonl, closed_positions.G.jsonl, trades.G.jsonl
    state.json.lock               the writer's lock (runner.state.lock)

(`runner.state.integrity` describes the checksums and what a load verifies.)

Crash safety: segments are appended first, the live file (with the new lengths and tips)
is replaced last: that rename is the commit. A process killed before it leaves appended
bytes beyond the committed lengths: they are ignored on load and cut off before the next
append, so the state on disk is always the last complete save.

Generations: `G` in the segment names. A store that has not loaded or saved this state
(a new run into a used directory, a store on a state of the previous format) writes a
new generation next to the old one and deletes the old one only after its own live file
is committed, so the previous state stays whole until the new one is. Settled trades move
to `trades.G.jsonl`; a trade is final once it is success, failed or repaired, and the
runner never edits a final trade.

Older files: format `segmented-1` (segments without checksums) and a plain one-file state
still load (with every invariant checked); the next save migrates them to a new generation.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from runner.state import files
from runner.state.accounting import AccountingCheck
from runner.state.balance_update import BalanceUpdate
from runner.state.errors import (
    StateDamaged,
    StateError,
    StateFormatError,
    StateInvariantError,
    StateWriteError,
)
from runner.state.integrity import (
    Verified,
    chain_next,
    chain_seed,
    check_seal,
    describe,
    has_seal,
    in_file,
    record_line,
    seal,
    split_record_line,
    verify_state,
)
from runner.state.position import TradingPosition
from runner.state.serialization import DECODE_ERRORS, bounded_nesting, decode_state
from runner.state.state import State
from runner.state.statistics import CycleStatistics
from runner.state.store import MAX_STATE_BYTES, StateStore
from runner.state.trade import TradeExecution

FORMAT = "segmented-2"
LEGACY_FORMAT = "segmented-1"
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
_SEGMENT_FILE = re.compile(r"^(?P<name>[a-z_]+)(?:\.(?P<gen>\d+))?\.jsonl$")


class _Segment(msgspec.Struct, forbid_unknown_fields=True, array_like=True):
    length: int  # committed bytes
    count: int  # committed records
    tip: str  # the last committed record's chain hash (hex)


class _LiveBody(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    generation: int
    segments: dict[str, _Segment]
    state: msgspec.Raw


class _Live(_LiveBody, forbid_unknown_fields=True):
    sha256: str


class _Head(msgspec.Struct):
    """Enough of any state file to tell its format."""

    format: str | None = None
    generation: int | None = None
    schema_version: Any = None


class _LegacyHot(msgspec.Struct):
    format: str
    segments: dict[str, list[int]]  # name -> [committed byte length, item count]
    state: msgspec.Raw


_head = msgspec.json.Decoder(_Head)


@dataclass
class _Saved:
    """What the files already hold, so a save writes only what is new."""

    generation: int | None = None  # None: nothing of this state is on disk yet (start a generation)
    lengths: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEGMENTS, 0))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEGMENTS, 0))
    tips: dict[str, bytes] = field(default_factory=dict)
    clean: set[str] = field(default_factory=set)  # segments whose file holds exactly the committed bytes
    closed: set[int] = field(default_factory=set)
    final_trades: set[int] = field(default_factory=set)
    max_trade_id: int = 0  # every trade up to this id was seen by a save
    unfinished: set[int] = field(default_factory=set)  # ...and these were not final then


@dataclass(frozen=True)
class _Tail:
    """Where a segment stood at a reader's last load: its committed bytes, records and tip."""

    length: int
    count: int
    tip: bytes


@dataclass
class _Followed:
    """What `reload` read last: the segments' tails and their records, already verified."""

    generation: int
    tails: dict[str, _Tail]
    items: dict[str, list[Any]]
    origins: dict[tuple[str, int], str]


class SegmentedStateStore(StateStore):
    """`state.json` plus append-only history segments; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        super().__init__(path, fsync=fsync)
        self.dir = self.path.with_name(self.path.name + ".d")
        self._saved = _Saved()
        self._followed: _Followed | None = None
        self.bytes_written = 0
        self._paths: dict[tuple[str, int | None], Path] = {}

    def segment_path(self, name: str, generation: int | None = None) -> Path:
        gen = self._saved.generation if generation is None else generation
        path = self._paths.get((name, gen))
        if path is None:  # a save names five of them: built once each
            path = self._paths[(name, gen)] = self.dir / f"{name}.{gen}.jsonl"
        return path

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

    def _append(self, name: str, data: bytes) -> None:
        saved = self._saved
        if not data and name in saved.clean:
            return
        path = self.segment_path(name)
        committed = saved.lengths[name]
        if not data and committed == 0 and not path.exists():
            saved.clean.add(name)
            return
        saved.clean.discard(name)
        try:
            try:
                fd, st = files.open_regular_stat(path, write=True, create=True)
            except FileNotFoundError:  # the first append: no segment directory yet
                self.dir.mkdir(parents=True, exist_ok=True)
                fd, st = files.open_regular_stat(path, write=True, create=True)
        except OSError as exc:
            raise files.write_error(path, exc) from None
        try:
            if st.st_size != committed:
                files.truncate(fd, committed, path)  # drop bytes of a save that never committed
            os.lseek(fd, committed, os.SEEK_SET)
            if data:
                files.write_all(fd, data, path)
                if self.fsync:
                    files.fsync(fd, path)
        except OSError as exc:
            with contextlib.suppress(OSError):  # give the space back: nothing past `committed` counts
                os.ftruncate(fd, committed)
            raise files.write_error(path, exc, "cannot save the state") from None
        finally:
            os.close(fd)
        self.bytes_written += len(data)

    def save(self, state: State) -> None:
        self.saves += 1
        started = self._saved.generation is None
        if started:
            gen = self._next_generation()
            self._saved = _Saved(generation=gen, tips={n: chain_seed(n, gen) for n in SEGMENTS})
        saved = self._saved
        assert saved.generation is not None
        new = self._new_items(state)
        lengths, counts, tips = dict(saved.lengths), dict(saved.counts), dict(saved.tips)
        try:
            for name, records in new.items():
                h = tips[name]
                lines = []
                for record in records:
                    h = chain_next(h, record)
                    lines.append(record_line(h, record))
                data = b"".join(lines)
                self._append(name, data)
                lengths[name] += len(data)
                counts[name] += len(records)
                tips[name] = h
            hot = self._encode_hot(state)
            segments = {n: _Segment(lengths[n], counts[n], tips[n].hex()) for n in SEGMENTS}
            doc = seal(_enc.encode(_LiveBody(FORMAT, saved.generation, segments, msgspec.Raw(hot))))
            files.atomic_write(self.path, doc, sync=self.fsync, what="cannot save the state")  # the commit
        except StateWriteError as exc:
            kept = "keeps the last complete save" if self.path.exists() else "was never written"
            raise StateWriteError(f"{exc.message}; {self.path} {kept}", exc.path, exc.errno) from None
        self.bytes_written += len(doc)
        self._commit(state, lengths, counts, tips)
        saved.clean = set(SEGMENTS)  # every segment file now ends at its committed length
        if started:
            self._remove_other_generations()

    def _encode_hot(self, state: State) -> bytes:
        """The state without its history: cold collections swapped out while encoding."""
        p = state.portfolio
        stash = (state.stats, state.accounting_checks, p.balance_updates, p.closed_positions)
        trades = {pid: pos.trades for pid, pos in p.open_positions.items()}
        settled = self._saved.final_trades
        try:
            state.stats, state.accounting_checks, p.balance_updates, p.closed_positions = [], [], {}, {}
            for pos in p.open_positions.values():
                # most trades are settled: a set difference (in C) leaves the few to test, and
                # the filter (in C too) puts those in the dict's own order
                all_trades = pos.trades
                live = {tid for tid in all_trades.keys() - settled if all_trades[tid].is_unfinished}
                pos.trades = {tid: all_trades[tid] for tid in filter(live.__contains__, all_trades)} if live else {}
            return _enc.encode(state)
        finally:
            state.stats, state.accounting_checks, p.balance_updates, p.closed_positions = stash
            for pid, pos in p.open_positions.items():
                pos.trades = trades[pid]

    def _commit(self, state: State, lengths: dict[str, int], counts: dict[str, int],
                tips: dict[str, bytes]) -> None:
        saved = self._saved
        saved.lengths, saved.counts, saved.tips = lengths, counts, tips
        saved.closed.update(state.portfolio.closed_positions)
        for pos in state.portfolio.open_positions.values():
            for tid in self._candidates(pos):
                if pos.trades[tid].is_unfinished:
                    saved.unfinished.add(tid)
                else:
                    saved.final_trades.add(tid)
                    saved.unfinished.discard(tid)
        saved.max_trade_id = state.portfolio.next_trade_id - 1

    # -- generations -------------------------------------------------------------
    def _generations_on_disk(self) -> set[int]:
        try:
            names = os.listdir(self.dir)
        except OSError:
            return set()
        out = set()
        for n in names:
            m = _SEGMENT_FILE.match(n)
            if m and m.group("gen") is not None:
                out.add(int(m.group("gen")))
        return out

    def _next_generation(self) -> int:
        """One more than any generation the live file or the segment directory names."""
        seen = self._generations_on_disk()
        try:
            with bounded_nesting():
                head = _head.decode(files.read_file(self.path, limit=MAX_STATE_BYTES))
            if isinstance(head.generation, int):
                seen.add(head.generation)
        except (OSError, StateError, *DECODE_ERRORS):
            pass
        return max(seen, default=0) + 1

    def _remove_other_generations(self) -> None:
        """Segments of other generations (and of the old format): the live file no longer names them."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for n in sorted(names):
            m = _SEGMENT_FILE.match(n)
            if m and m.group("name") in _DECODERS and m.group("gen") != str(self._saved.generation):
                files.discard(self.dir / n)

    # -- reading -----------------------------------------------------------------
    def _read_live(self) -> bytes:
        source = str(self.path)
        try:
            return files.read_file(self.path, limit=MAX_STATE_BYTES)
        except FileNotFoundError:
            raise StateFormatError(f"{source}: no such state file", source) from None
        except OSError as exc:
            raise StateFormatError(f"{source}: cannot read: {exc.strerror or exc}", source) from None

    def load(self) -> State:
        with bounded_nesting():
            return self._load()

    def reload(self) -> State:
        """The state again, reading only the history appended since this store's last reload.

        For a reader that follows another process's saves (the harness's mirror of a
        runner process, after every command): a full load there re-read and re-verified
        the whole history each time, quadratic over a run. It is exact because the live
        file's chain tip commits to every record before it: the records read earlier
        plus the new ones must end in that tip, or the segment is read whole again. The
        records it hands back are shared with the next reload's state, so its caller must
        not change them (history never changes once written); a new generation, or a
        segment shorter than before, is read whole.
        """
        with bounded_nesting():
            return self._load(follow=True)

    def _load(self, follow: bool = False) -> State:
        source = str(self.path)
        raw = self._read_live()
        if has_seal(raw):
            check_seal(raw, source)
            for _attempt in range(3):
                try:
                    return self._load_current(raw, follow)
                except StateDamaged:
                    # A writer that committed a new generation meanwhile removes the segments
                    # this reader's live file named: read the new live file and try again.
                    again = self._read_live()
                    if again == raw or not has_seal(again):
                        raise
                    check_seal(again, source)
                    raw = again
            return self._load_current(raw, follow)
        try:
            head = _head.decode(raw)
        except DECODE_ERRORS as exc:
            raise StateDamaged(f"{source}: damaged or truncated: not a JSON state file ({exc}); "
                               "restore it from a backup or run the scenario again", source) from None
        if head.format == FORMAT:
            check_seal(raw, source)  # raises: the seal is missing or cut
        if head.format == LEGACY_FORMAT:
            return self._load_legacy(raw)
        if head.format is not None:
            raise StateFormatError(f"{source}: unknown state format {head.format!r}; this runner reads "
                                   f"{FORMAT} and {LEGACY_FORMAT}", source)
        state = decode_state(raw, source)  # a plain one-file state (StateStore)
        verify_state(state, in_file(source), source)
        self._saved = _Saved()
        return state

    def _load_current(self, raw: bytes, follow: bool = False) -> State:
        source = str(self.path)
        try:
            live = msgspec.json.decode(raw, type=_Live)
        except DECODE_ERRORS as exc:
            raise StateFormatError(f"{source}: not a {FORMAT} state file: {exc}", source) from None
        if live.format != FORMAT:
            raise StateFormatError(f"{source}: unknown state format {live.format!r}; this runner reads {FORMAT}",
                                   source)
        if set(live.segments) != set(SEGMENTS):
            raise StateFormatError(f"{source}: segments {sorted(live.segments)}, expected {sorted(SEGMENTS)}",
                                   source)
        state = decode_state(bytes(live.state), source)
        saved = _Saved(generation=live.generation)
        before = self._followed if follow else None
        if before is not None and (before.generation != live.generation or any(
                live.segments[n].length < t.length or live.segments[n].count < t.count
                for n, t in before.tails.items())):
            before = None  # rewritten, not appended to: read whole
        origins: dict[tuple[str, int], str] = dict(before.origins) if before else {}
        items: dict[str, list[Any]] = {}
        for name in SEGMENTS:
            seg = live.segments[name]
            after = before.tails[name] if before else None
            new, clean = self._read_segment(name, live.generation, seg, origins, after)
            items[name] = before.items[name] + new if before else new
            saved.lengths[name], saved.counts[name] = seg.length, seg.count
            saved.tips[name] = bytes.fromhex(seg.tip)  # checked against the chain by _read_segment
            if clean:
                saved.clean.add(name)
        verified = {n: t.count for n, t in before.tails.items()} if before else {}
        self._assemble(state, items, origins, saved, verified)
        if follow:
            self._followed = _Followed(
                live.generation, {n: _Tail(saved.lengths[n], saved.counts[n], saved.tips[n]) for n in SEGMENTS},
                {n: list(v) for n, v in items.items()}, origins)
        return state

    def _load_legacy(self, raw: bytes) -> State:
        """A `segmented-1` state: segments without checksums; the next save starts a generation."""
        source = str(self.path)
        try:
            hot = msgspec.json.decode(raw, type=_LegacyHot)
        except DECODE_ERRORS as exc:
            raise StateFormatError(f"{source}: not a {LEGACY_FORMAT} state file: {exc}", source) from None
        state = decode_state(bytes(hot.state), source)
        origins: dict[tuple[str, int], str] = {}
        items: dict[str, list[Any]] = {}
        for name in SEGMENTS:
            length, count = ([*hot.segments.get(name, []), 0, 0])[:2]
            items[name] = self._read_legacy_segment(name, length, count, origins)
        self._assemble(state, items, origins, _Saved())
        self._saved = _Saved()  # not a generation this store can append to
        return state

    def _read_committed(self, path: Path, length: int, count: int, start: int = 0) -> tuple[bytes, int]:
        """The committed bytes from `start` on, and the file's size."""
        live = self.path.name
        try:
            fd, st = files.open_regular_stat(path)
        except FileNotFoundError:
            raise StateDamaged(f"{path}: missing: {live} commits {count} records ({length} bytes) to it; "
                               "restore it from a backup or run the scenario again", str(path)) from None
        except OSError as exc:
            raise StateDamaged(f"{path}: cannot read: {exc.strerror or exc}", str(path)) from None
        try:
            size = st.st_size
            if size < length:
                raise StateDamaged(f"{path}: truncated: {size} bytes, {live} committed {length} "
                                   f"({count} records); restore it from a backup or run the scenario again",
                                   str(path))
            if start:
                os.lseek(fd, start, os.SEEK_SET)
            return files.read_exactly(fd, length - start), size
        finally:
            os.close(fd)

    def _read_segment(self, name: str, gen: int, seg: _Segment, origins: dict[tuple[str, int], str],
                      after: _Tail | None = None) -> tuple[list[Any], bool]:
        """The committed records of one segment (those past `after`, when given), verified;
        and whether the file ends there."""
        path = self.segment_path(name, gen)
        live = self.path.name
        first, skip = (after.length, after.count) if after else (0, 0)
        if seg.length == first:  # nothing (new) committed: the file need not exist
            data, size = b"", (path.stat().st_size if path.exists() else 0)
        else:
            data, size = self._read_committed(path, seg.length, seg.count, first)
        h = after.tip if after else chain_seed(name, gen)
        decoder = _DECODERS[name]
        out = []
        lines = data.split(b"\n")
        complete = lines[:-1]  # the committed bytes end with a newline: the last piece is empty
        for i, line in enumerate(complete, skip + 1):
            parts = split_record_line(line)
            if parts is None:
                raise StateDamaged(f"{path}: record {i} (line {i}): damaged: not a checksummed record line; "
                                   "restore it from a backup or run the scenario again", str(path))
            stored, record = parts
            h = chain_next(h, record)
            if stored != h.hex().encode():
                raise StateDamaged(f"{path}: record {i} (line {i}): damaged: checksum mismatch (changed, "
                                   "removed or reordered records); restore it from a backup or run the scenario again",
                                   str(path))
            try:
                out.append(decoder.decode(record))
            except DECODE_ERRORS as exc:
                raise StateFormatError(f"{path}: record {i} (line {i}): {exc}", str(path)) from None
            origins[(name, i - 1)] = f"{path}: record {i}"
        if lines[-1]:
            k = skip + len(complete) + 1
            raise StateDamaged(f"{path}: record {k} (line {k}): damaged: its line end is missing (cut or changed); "
                               "restore it from a backup or run the scenario again", str(path))
        if skip + len(complete) != seg.count:
            raise StateDamaged(f"{path}: its first {seg.length} bytes hold {skip + len(complete)} complete records, "
                               f"{live} commits {seg.count}; restore it from a backup or run the scenario again",
                               str(path))
        if h.hex() != seg.tip:
            raise StateDamaged(f"{path}: its {seg.count} records do not end with the checksum {live} committed "
                               "for them (a record was replaced, or the file is from another state); restore "
                               "it from a backup or run the scenario again", str(path))
        return out, size == seg.length

    def _read_legacy_segment(self, name: str, length: int, count: int,
                             origins: dict[tuple[str, int], str]) -> list[Any]:
        if count == 0:
            return []
        path = self.dir / f"{name}.jsonl"
        data, _size = self._read_committed(path, length, count)
        lines = data.split(b"\n")
        if lines[-1] or len(lines) - 1 != count:
            raise StateDamaged(f"{path}: its first {length} bytes hold {len(lines) - 1} complete records, "
                               f"{self.path.name} commits {count}", str(path))
        decoder = _DECODERS[name]
        out = []
        for i, line in enumerate(lines[:-1], 1):
            try:
                out.append(decoder.decode(line))
            except DECODE_ERRORS as exc:
                raise StateFormatError(f"{path}: record {i} (line {i}): {exc}", str(path)) from None
            origins[(name, len(out) - 1)] = f"{path}: record {i}"
        return out

    def _assemble(self, state: State, items: dict[str, list[Any]], origins: dict[tuple[str, int], str],
                  saved: _Saved, verified: dict[str, int] | None = None) -> None:
        """History back into the state, each record's origin kept for the invariant checks.
        `verified`: how many leading records of each segment a reload verified before
        (their amounts are not range-checked again; the state as a whole is)."""
        source = str(self.path)
        live = source
        where: dict[tuple[str, int], str] = {}
        p = state.portfolio

        def dup(name: str, index: int, what: str) -> StateInvariantError:
            at = origins[(name, index)]
            return StateInvariantError(f"{at}: {what}; the state contradicts itself: restore it from a backup "
                                       "or run the scenario again", source, at)

        for i in range(len(items["stats"])):
            where[("stat", i)] = origins[("stats", i)]
        for i in range(len(items["checks"])):
            where[("check", i)] = origins[("checks", i)]
        for pid, pos in p.open_positions.items():
            where[("position", pid)] = f"{live}: open position #{pid}"
            for tid in pos.trades:
                where[("trade", tid)] = f"{live}: trade #{tid} of open position #{pid}"
        updates: dict[int, BalanceUpdate] = {}
        for i, bu in enumerate(items["balance_updates"]):
            if bu.balance_update_id in updates:
                raise dup("balance_updates", i, f"balance update #{bu.balance_update_id} is recorded twice")
            updates[bu.balance_update_id] = bu
            where[("balance_update", bu.balance_update_id)] = origins[("balance_updates", i)]
        closed: dict[int, TradingPosition] = {}
        for i, pos in enumerate(items["closed_positions"]):
            pid = pos.position_id
            if pid in closed or pid in p.open_positions:
                raise dup("closed_positions", i, f"position #{pid} is recorded twice")
            closed[pid] = pos
            where[("position", pid)] = origins[("closed_positions", i)]
            for tid in pos.trades:
                where[("trade", tid)] = f"{origins[('closed_positions', i)]} (trade #{tid})"
        state.stats = items["stats"]
        state.accounting_checks = items["checks"]
        p.balance_updates = updates
        p.closed_positions = closed
        for i, settled in enumerate(items["trades"]):
            tid = settled.trade.trade_id
            owner = p.open_positions.get(settled.position_id)
            if owner is None:
                if settled.position_id in closed:
                    continue  # a later close carries the position's whole history
                raise dup("trades", i, f"trade #{tid} belongs to position #{settled.position_id}, which the state "
                          "does not hold")
            if tid in owner.trades:
                raise dup("trades", i, f"trade #{tid} is recorded twice ({where[('trade', tid)]})")
            owner.trades[tid] = settled.trade
            where[("trade", tid)] = origins[("trades", i)]
            saved.final_trades.add(tid)
        for pos in p.open_positions.values():
            pos.trades = dict(sorted(pos.trades.items()))
            saved.unfinished.update(tid for tid, t in pos.trades.items() if t.is_unfinished)
        saved.max_trade_id = p.next_trade_id - 1
        saved.closed.update(p.closed_positions)

        def origin(kind: str, key: int) -> str:
            return where.get((kind, key)) or f"{live}: {describe(kind, key)}"

        known = verified or {}
        prior = Verified(
            stats=known.get("stats", 0), checks=known.get("checks", 0),
            balance_updates=frozenset(b.balance_update_id for b in items["balance_updates"][:known.get("balance_updates", 0)]),
            closed_positions=frozenset(c.position_id for c in items["closed_positions"][:known.get("closed_positions", 0)]),
        ) if known else None
        verify_state(state, origin, source, prior)
        self._saved = saved


def remove_leftovers(state_path: Path | str) -> list[Path]:
    """What dead writers left beside a state: temp files of atomic writes, and segment
    files the live state does not reference. Call only while holding the state's lock;
    nothing is removed when the live file cannot be read (it stays as evidence)."""
    path = Path(state_path)
    removed = []
    for tmp in files.stale_temp_files(path.parent):
        files.discard(tmp)
        removed.append(tmp)
    seg_dir = path.with_name(path.name + ".d")
    try:
        raw = files.read_file(path, limit=MAX_STATE_BYTES)
        with bounded_nesting():
            head = _head.decode(raw)
    except (OSError, StateError, *DECODE_ERRORS):
        return removed
    if head.format != FORMAT or not has_seal(raw):
        return removed
    try:
        names = os.listdir(seg_dir)
    except OSError:
        return removed
    for n in sorted(names):
        m = _SEGMENT_FILE.match(n)
        if m and m.group("name") in _DECODERS and m.group("gen") != str(head.generation):
            files.discard(seg_dir / n)
            removed.append(seg_dir / n)
    return removed


def open_store(path: str | os.PathLike[str], *, fsync: bool = True) -> SegmentedStateStore:
    """The store for a state file, whichever format it was written in."""
    return SegmentedStateStore(path, fsync=fsync)


__all__ = ["FORMAT", "SEGMENTS", "SegmentedStateStore", "open_store", "remove_leftovers"]
