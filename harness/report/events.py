"""The run's event timeline: every timeline event, crash, fault, reorg, retry and
invariant violation, in plain words, with the block it happened in.

An event that moved the vault's money (a deposit, a redemption, a rebase, interest, a
transfer behind the runner's back) gets its own block from the chain audit: the n-th such
event of the scenario is the n-th such log (or movement) on chain. Block timestamps cannot
place events: a block is stamped when its first transaction arrives, and the runner's last
transaction of a cycle leaves a block open that the next instant's events join. Anything
else is placed between the last block the run recorded before its instant and the first it
recorded at or after it (accounting checks, balance updates, trades, chain-truth NAV reads,
violations all name their block).

The runner's retry log has no times. Injected faults never outlive the instant that armed
them (the engine disarms what is left), so each injected retry is placed, in order, at the
fault instants whose fault could have caused it (same request kind, calls left); a retry no
fault explains is listed without a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from harness.audit.model import ChainAudit
from harness.scenario.model import (
    DepositEvent,
    Event,
    ExternalTransferEvent,
    InterestEvent,
    NodeFaultEvent,
    RebaseEvent,
    WithdrawEvent,
)
from harness.scenario.quantities import format_duration
from harness.timeline import Instant, build_timeline

if TYPE_CHECKING:
    from harness.result import RunResult

from harness.report.model import TimelineRow

EVENT_WORDS = {
    "deposit": "deposit",
    "withdraw": "withdrawal",
    "rebase": "rebase",
    "interest": "interest",
    "price_shock": "price shock",
    "fail_next_trade": "trade failure armed",
    "external_transfer": "transfer behind the runner's back",
    "crash": "crash armed",
    "set_parameter": "parameter change",
    "note": "note",
    "mempool": "mempool",
    "node_fault": "node fault armed",
    "node_restart": "node restart",
    "reorg": "reorg",
}
PROBLEMS = {"crash", "node error", "reorg", "run stopped", "invariant violation"}
WARNINGS = {"transfer behind the runner's back", "trade failure armed", "node fault armed", "crash armed",
            "retry", "restart", "node restart", "mempool", "unused faults"}


def _engine_kind(text: str) -> str:
    """The kind of a line the engine itself wrote into the journal."""
    for prefix, kind in (("crash at ", "crash"), ("node error:", "node error"), ("stopped:", "run stopped"),
                         ("violation:", "invariant violation")):
        if text.startswith(prefix):
            return kind
    if "injected node fault(s) unused" in text:
        return "unused faults"
    return "note"


def _severity(kind: str) -> str:
    return "problem" if kind in PROBLEMS else "warning" if kind in WARNINGS else "info"


def _chain_kind(event: Event) -> tuple[str, str] | None:
    """The kind and asset an event shows up as among the chain audit's events."""
    if isinstance(event, DepositEvent):
        return "deposit", ""
    if isinstance(event, WithdrawEvent):
        return "redemption", ""
    if isinstance(event, RebaseEvent):
        return "rebase", str(event.token)
    if isinstance(event, InterestEvent):
        return "interest", str(event.token)
    if isinstance(event, ExternalTransferEvent):
        return "external", str(event.token)
    return None


@dataclass
class _Blocks:
    audit: ChainAudit | None
    recorded: list[tuple[datetime, int]]  # (time, block) the run recorded, in time order
    reserve: str
    seen: dict[tuple[str, str], int]  # chain events of a kind and asset already placed

    def instant(self, start: datetime) -> str:
        before = [b for t, b in self.recorded if t < start]
        after = [b for t, b in self.recorded if t >= start]
        lo = max(before) if before else (self.audit.first_block if self.audit else None)
        hi = min(after) if after else (self.audit.last_block if self.audit else None)
        if lo is None or hi is None:
            return ""
        if hi < lo:  # a reorg went back: the chain's blocks after it are new ones
            return f"block {hi}"
        return f"block {lo}" if lo == hi else f"between blocks {lo} and {hi}"

    def event(self, event: Event, text: str) -> str | None:
        want = _chain_kind(event)
        if want is None or self.audit is None or " failed: " in text:
            return None
        kind, asset = want
        asset = asset or self.reserve
        n = self.seen.get((kind, asset), 0)
        found = [e for e in self.audit.events if e.kind == kind and e.asset == asset]
        if n >= len(found):
            return None
        self.seen[(kind, asset)] = n + 1
        return f"block {found[n].block}"


def build_events(result: RunResult, audit: ChainAudit | None, recorded: list[tuple[datetime, int]]) -> list[TimelineRow]:
    s = result.scenario
    start = s.clock.start
    instants = {start + i.offset: i for i in build_timeline(s)}
    blocks = _Blocks(audit, sorted(recorded), s.universe.reserve, {})
    rows: list[tuple[datetime | None, str, str, str, str]] = []  # time, at, kind, what, blocks
    retries = _place_retries(result, instants)
    for entry in result.journal:
        here = blocks.instant(entry.time)
        planned = list(instants[entry.time].events) if entry.time in instants else []
        for text in entry.events:
            if text.startswith("violation:"):
                continue  # listed from the violations themselves, with their block
            if planned:
                event = planned.pop(0)
                kind = EVENT_WORDS.get(event.kind, event.kind.replace("_", " "))
                rows.append((entry.time, entry.at, kind, text, blocks.event(event, text) or here))
            else:
                rows.append((entry.time, entry.at, _engine_kind(text), text, here))
        for text in retries.pop(entry.time, []):
            rows.append((entry.time, entry.at, "retry", text, here))
    for r in result.repaired:
        at = format_duration(r["at"] - start)
        rows.append((r["at"], at, "restart", f"restart resolved trade #{r['trade_id']}: {r['status']} ({r['reason']})",
                     blocks.instant(r["at"])))
    for v in result.violations:
        rows.append((v.time, v.at, "invariant violation", f"{v.invariant}: {v.detail}", f"block {v.block}"))
    for leftover in retries.values():
        rows.extend((None, "", "retry", text, "") for text in leftover)
    order = {"restart": 1, "invariant violation": 2}
    rows.sort(key=lambda r: (r[0] is None, r[0] or start, order.get(r[2], 0)))
    return [TimelineRow(n, t, at, kind, what, blk, _severity(kind)) for n, (t, at, kind, what, blk) in enumerate(rows, 1)]


def _place_retries(result: RunResult, instants: dict[datetime, Instant]) -> dict[datetime | None, list[str]]:
    """Each injected retry at the first fault instant (in time order) that still has calls of its kind."""
    windows: list[tuple[datetime, str | None, list[int]]] = []
    for t in sorted(instants):
        for event in instants[t].events:
            if isinstance(event, NodeFaultEvent):
                windows.append((t, str(event.method) if event.method else None, [int(event.calls)]))
    out: dict[datetime | None, list[str]] = {}
    for text in result.retries:
        method = text.split(":", 1)[0]
        home: datetime | None = None
        if "(injected" in text:
            for t, only, left in windows:
                if left[0] > 0 and only in (None, method):
                    left[0] -= 1
                    home = t
                    break
        out.setdefault(home, []).append(f"retried {text}")
    return out


__all__ = ["build_events"]
