"""External changes of a balance: money that moved without a trade of ours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class BalanceUpdateCause(StrEnum):
    deposit = "deposit"
    redemption = "redemption"
    interest = "interest"
    rebase = "rebase"
    correction = "correction"


@dataclass
class BalanceUpdate:
    """One change of one asset's balance, with where on the chain it came from.

    `event_key` (tx hash and log index, or block and asset for balance-derived updates)
    makes syncing the same block range twice a no-op.
    """

    balance_update_id: int
    cause: BalanceUpdateCause
    asset: str
    quantity: Decimal
    old_balance: Decimal
    new_balance: Decimal
    block_number: int
    timestamp: datetime
    event_key: str
    position_id: int | None = None
    tx_hash: str | None = None
    owner: str | None = None
    shares: Decimal | None = None
    reserve_value: Decimal | None = None
    notes: str = ""
