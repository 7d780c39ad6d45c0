"""Results of accounting checks: each compared balance is a row an auditor can read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Verdict(StrEnum):
    ok = "ok"
    dust = "dust"
    mismatch = "mismatch"


@dataclass
class AccountingRow:
    asset: str
    address: str
    on_chain: Decimal
    ledger: Decimal
    difference: Decimal
    relative_difference: Decimal
    tolerance: Decimal
    verdict: Verdict
    position_id: int | None = None
    correction_id: int | None = None


@dataclass
class AccountingCheck:
    check_id: int
    kind: str  # start | restart | post_execution | report
    cycle: int
    timestamp: datetime
    block_number: int
    policy: str
    rows: list[AccountingRow] = field(default_factory=list)
    outcome: Verdict = Verdict.ok
    action: str = "none"  # none | corrected | reported | aborted

    def mismatches(self) -> list[AccountingRow]:
        return [r for r in self.rows if r.verdict == Verdict.mismatch]
