"""The whole persisted state of a strategy: what a restart resumes from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.state.accounting import AccountingCheck
from runner.state.portfolio import Portfolio
from runner.state.position import ReservePosition
from runner.state.statistics import CycleStatistics
from runner.state.trade import BlockchainTransaction

if TYPE_CHECKING:
    from runner.universe import Universe

SCHEMA_VERSION = 1


@dataclass
class UniverseIdentity:
    """Which deployed universe a state belongs to: its chain and contract addresses.

    Recorded when a run starts, so a tool that later works on the state against a node
    (`harness repair`) can refuse a scenario describing another universe."""

    chain_id: int
    reserve: str
    vault: str
    router: str
    factory: str
    tokens: dict[str, str] = field(default_factory=dict)  # symbol -> address
    pools: dict[str, str] = field(default_factory=dict)  # pair -> address

    @classmethod
    def of(cls, universe: Universe) -> UniverseIdentity:
        def hx(address: bytes) -> str:
            return "0x" + address.hex()

        return cls(
            chain_id=universe.chain_id, reserve=universe.reserve.symbol, vault=hx(universe.vault),
            router=hx(universe.router), factory=hx(universe.factory),
            tokens={s: hx(t.address) for s, t in universe.tokens.items()},
            pools={p: hx(pool.address) for p, pool in universe.pools.items()},
        )

    def differences(self, other: UniverseIdentity) -> list[str]:
        """What differs between two universes, in words (empty when they are the same)."""
        out = []
        for name in ("reserve", "vault", "router", "factory"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out.append(f"{name} {mine} vs {theirs}")
        for label, a, b in (("token", self.tokens, other.tokens), ("pool", self.pools, other.pools)):
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    out.append(f"{label} {key} {a.get(key, 'absent')} vs {b.get(key, 'absent')}")
        return out

    def describe(self) -> str:
        return f"reserve {self.reserve}, tokens {', '.join(sorted(self.tokens))}, vault {self.vault}"


@dataclass
class SyncState:
    """How far the chain has been read: the next sync starts after `last_block`.

    `booked_swaps` are the trades' swaps settled from blocks past `last_block` (a cycle's
    trades are mined after its sync), by the key of their Swapped log (`0x<tx>:<log
    index>`) with its block: the next sync finds each among the logs it reads, or a reorg
    replaced its block while leaving `last_block` as it was (runner.models.sync).
    """

    last_block: int = 0
    last_block_hash: str | None = None
    last_synced_at: datetime | None = None
    reorgs_detected: int = 0
    vault_shares_outstanding: str = "0"
    booked_swaps: dict[str, int] = field(default_factory=dict)


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
    universe: UniverseIdentity | None = None  # None in states written before it was recorded
    # The redemption queue's payment (fulfillRedemptions) this runner broadcast and the
    # chain has not answered yet (blocks stalled): a later cycle resolves it
    # (runner/models/redemptions.py). None when none is pending, and in states written
    # before it was recorded.
    pending_fulfilment: BlockchainTransaction | None = None

    @classmethod
    def new(cls, name: str, reserve_asset: str, ts: datetime, reserve_decimals: int = 18) -> State:
        reserve = ReservePosition(asset=reserve_asset, decimals=reserve_decimals)
        return cls(name=name, created_at=ts, portfolio=Portfolio(reserve=reserve))
