"""The whole persisted state of a strategy: what a restart resumes from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.state.accounting import AccountingCheck
from runner.state.portfolio import Portfolio
from runner.state.position import ReservePosition
from runner.state.statistics import CycleStatistics

SCHEMA_VERSION = 1


@dataclass
class SyncState:
    """How far the chain has been read: the next sync starts after `last_block`."""

    last_block: int = 0
    last_block_hash: str | None = None
    last_synced_at: datetime | None = None
    reorgs_detected: int = 0
    vault_shares_outstanding: str = "0"


@dataclass
class State:
    name: str
    created_at: datetime
    portfolio: Portfolio
    schema_version: int = SCHEMA_VERSION
    cycle: int = 0
    last_updated_at: datetime | None = None
    sync: SyncState = field(default_factory=SyncState)
    stats: list[CycleStatistics] = field(default_factory=list)
    accounting_checks: list[AccountingCheck] = field(default_factory=list)
    repaired_trade_ids: list[int] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    clean_shutdown: bool = True

    @classmethod
    def new(cls, name: str, reserve_asset: str, ts: datetime, reserve_decimals: int = 18) -> State:
        reserve = ReservePosition(asset=reserve_asset, decimals=reserve_decimals)
        return cls(name=name, created_at=ts, portfolio=Portfolio(reserve=reserve))
