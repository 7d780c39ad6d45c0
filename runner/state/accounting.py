"""Results of accounting checks: each compared balance is a row an auditor can read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from runner.state.vocabulary import CheckAction, CheckKind, MismatchPolicy


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
    value_difference: Decimal | None = None  # the difference in reserve value (None: no price)


@dataclass
class AccountingCheck:
    check_id: int
    kind: CheckKind
    cycle: int
    timestamp: datetime
    block_number: int
    policy: MismatchPolicy
    rows: list[AccountingRow] = field(default_factory=list)
    outcome: Verdict = Verdict.ok
    action: CheckAction = CheckAction.none

    def mismatches(self) -> list[AccountingRow]:
        return [r for r in self.rows if r.verdict == Verdict.mismatch]
