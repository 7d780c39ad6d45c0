"""The auditor's report as plain data: every table and figure the renderers print.

Amounts are Decimals end to end; times are the state's own (scenario) times. Nothing
here reads a clock or a random source, so the same run always gives the same report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, localcontext
from enum import Enum
from typing import Any

from harness.audit.model import ChainAudit
from harness.audit.model import to_document as audit_document


def plain(d: Decimal | None) -> str:
    """A Decimal in positional notation, exactly as stored: 0.000000001, never 1E-9."""
    if d is None:
        return ""
    if d == 0:
        return "0"
    return format(d, "f")


def in_units(d: Decimal, decimals: int) -> str:
    """An amount with exactly `decimals` places when that is exact, else every digit it has."""
    with localcontext(Context(prec=200)):  # padding with zeros never rounds, however long the value
        unit = Decimal(1).scaleb(-decimals)
        if d == d.quantize(unit):
            return f"{d.quantize(unit):f}"
    return plain(d)


def iso(ts: datetime | None) -> str:
    """ISO-8601, UTC written as Z (the state file's own spelling)."""
    if ts is None:
        return ""
    if ts.tzinfo is not None and ts.utcoffset() == UTC.utcoffset(None):
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts.microsecond == 0 else ts.isoformat().replace("+00:00", "Z")
    return ts.isoformat()


@dataclass
class Line:
    """One line of the closing reconciliation: `amount` as shown, `sign` +1 or -1."""

    key: str
    label: str
    sign: int
    amount: Decimal
    definition: str

    @property
    def contribution(self) -> Decimal:
        return self.amount if self.sign > 0 else -self.amount


@dataclass
class ResidualTerm:
    """One named cause of a non-zero residual; the terms add up to the residual exactly."""

    key: str
    label: str
    amount: Decimal
    definition: str


@dataclass
class PositionBreakdown:
    """Per-position figures behind the realised, unrealised and balance-update lines."""

    position_id: int
    pair: str
    asset: str
    state: str  # open | frozen | closed
    quantity: Decimal
    valuation_price: Decimal | None
    value: Decimal
    bought: Decimal
    sold: Decimal
    cost_basis: Decimal
    buy_fees: Decimal
    sell_fees: Decimal
    fees_unrealised: Decimal
    realised_pnl: Decimal  # before fees, from the ledger's records
    runner_realised_pnl: Decimal  # TradingPosition.realised_pnl as booked (after fees)
    unrealised_pnl: Decimal  # before fees
    held_fraction: Decimal
    balance_update_quantity: dict[str, Decimal] = field(default_factory=dict)
    balance_update_value: dict[str, Decimal] = field(default_factory=dict)
    recomputed_quantity: Decimal = Decimal(0)


@dataclass
class CrossCheck:
    """A figure the runner maintains, against the same figure recomputed from its records.

    Not part of the residual: it says where the runner's own bookkeeping drifted."""

    subject: str
    runner: Decimal
    recomputed: Decimal
    difference: Decimal
    note: str


@dataclass
class Reconciliation:
    reserve_asset: str
    lines: list[Line]
    final_nav: Decimal
    sum_of_lines: Decimal
    residual: Decimal
    residual_terms: list[ResidualTerm]
    positions: list[PositionBreakdown]
    cross_checks: list[CrossCheck]
    notes: list[str] = field(default_factory=list)
    nav_cash: Decimal = Decimal(0)
    nav_in_flight: Decimal = Decimal(0)
    nav_positions: Decimal = Decimal(0)


@dataclass
class StatPoint:
    cycle: int
    timestamp: datetime
    nav: Decimal
    cash: Decimal
    positions_value: Decimal
    kind: str
    status: str


@dataclass
class MovementRow:
    """A balance update: a deposit, redemption, rebase, interest accrual or correction."""

    balance_update_id: int
    timestamp: datetime
    block_number: int
    cause: str
    asset: str
    side: str  # reserve | position #N
    quantity: Decimal
    old_balance: Decimal
    new_balance: Decimal
    reserve_value: Decimal | None
    shares: Decimal | None
    owner: str | None
    tx_hash: str | None
    event_key: str
    notes: str


@dataclass
class TradeRow:
    trade_id: int
    position_id: int
    pair: str
    trade_type: str
    side: str  # buy | sell | repair
    status: str
    opened_at: datetime
    settled_at: datetime | None
    planned_quantity: Decimal
    planned_reserve: Decimal
    planned_price: Decimal
    executed_quantity: Decimal | None
    executed_reserve: Decimal | None
    executed_price: Decimal | None
    lp_fees_paid: Decimal | None
    slippage: Decimal | None
    max_slippage: Decimal
    failure_reason: str | None
    repaired_trade_id: int | None
    repaired_by_trade_id: int | None
    tx_hashes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class RepairRow:
    """A trade a restart resolved, and the counter entry that undid it (if any)."""

    trade_id: int
    pair: str
    side: str
    status: str
    planned_quantity: Decimal
    planned_reserve: Decimal
    resolved_at: datetime | None
    reason: str
    counter_trade_id: int | None
    counter_reserve: Decimal | None
    counter_note: str


@dataclass
class CheckRow:
    asset: str
    address: str
    on_chain: Decimal
    ledger: Decimal
    difference: Decimal
    relative_difference: Decimal
    tolerance: Decimal
    verdict: str
    action: str
    position_id: int | None
    correction_id: int | None


@dataclass
class CheckTable:
    check_id: int
    kind: str
    cycle: int
    timestamp: datetime
    block_number: int
    policy: str
    outcome: str
    action: str
    rows: list[CheckRow]


@dataclass
class LedgerRow:
    """One movement of the ledger, as a CSV row.

    `reserve_amount` is the signed change of reserve cash for reserve-side rows, buys
    (negative: paid) and sells (positive: received); for a token-side balance update it
    is the reserve value the runner recorded when booking it (blank if none)."""

    time: datetime
    block_number: int | None
    kind: str  # balance_update | correction | trade | repair
    cause: str
    asset: str
    quantity: Decimal
    reserve_amount: Decimal | None
    position_id: int | None
    trade_id: int | None
    balance_update_id: int | None
    repaired_trade_id: int | None
    tx_hash: str
    event_key: str
    notes: str


@dataclass
class ExpectationRow:
    line: int
    kind: str
    at: datetime
    passed: bool
    message: str


@dataclass
class NavRow:
    """The ledger's NAV and the NAV the harness computes from chain reads, after one tick."""

    time: datetime
    block: int
    ledger_nav: Decimal
    chain_nav: Decimal

    @property
    def difference(self) -> Decimal:
        return self.chain_nav - self.ledger_nav


@dataclass
class TimelineRow:
    """One thing that happened during the run, in plain words, with the blocks it touched."""

    row_id: int
    time: datetime | None  # None: the run records no time for it (a retry outside any fault window)
    at: str  # offset from the start of the scenario clock
    kind: str  # plain words: deposit, crash, node fault, reorg, retry, invariant violation, ...
    what: str
    blocks: str  # "block 17", "blocks 17-19", or "" when no block was sealed
    severity: str  # info | warning | problem


@dataclass
class ViolationRow:
    row_id: int
    invariant: str
    at: str
    time: datetime
    block: int
    expected: str
    found: str
    detail: str
    expected_by_scenario: bool


@dataclass
class SummaryItem:
    """One line of the summary at the top: a count and a link to each row behind it."""

    key: str
    label: str
    count: int
    links: list[tuple[str, str]]  # (text, anchor id)
    problem: bool
    detail: str = ""


@dataclass
class Report:
    name: str
    description: str | None
    source: str  # "run" or "state file"
    reserve_asset: str
    reserve_decimals: int
    cycles: int
    created_at: datetime
    last_updated_at: datetime | None
    reconciliation: Reconciliation
    chart: list[StatPoint]
    movements: list[MovementRow]
    trades: list[TradeRow]
    repairs: list[RepairRow]
    checks: list[CheckTable]
    ledger: list[LedgerRow]
    fingerprint: str | None = None
    backend: str | None = None
    seed: int | None = None
    error: str | None = None
    crashes: int = 0
    expectations: list[ExpectationRow] = field(default_factory=list)
    asset_decimals: dict[str, int] = field(default_factory=dict)
    nav: list[NavRow] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)
    violations: list[ViolationRow] = field(default_factory=list)
    audit: ChainAudit | None = None
    audit_unavailable: str | None = None  # why there is no chain view
    node_errors: int = 0
    retries: int = 0
    summary: list[SummaryItem] = field(default_factory=list)

    def decimals(self, asset: str) -> int | None:
        return self.asset_decimals.get(asset)


def to_document(obj: Any) -> Any:
    """Plain JSON-ready data: amounts as decimal strings, times as ISO strings."""
    if isinstance(obj, ChainAudit):
        return audit_document(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_document(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, Line):
            out["contribution"] = to_document(obj.contribution)
        if isinstance(obj, NavRow):
            out["difference"] = to_document(obj.difference)
        return out
    if isinstance(obj, Decimal):
        return plain(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, datetime):
        return iso(obj)
    if isinstance(obj, dict):
        return {str(k): to_document(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_document(v) for v in obj]
    return obj
