"""The strategy's persisted state: typed models with exact Decimal amounts."""

from runner.state.accounting import AccountingCheck, AccountingRow, Verdict
from runner.state.balance_update import BalanceUpdate, BalanceUpdateCause
from runner.state.errors import (
    StateDamaged,
    StateError,
    StateFormatError,
    StateInvariantError,
    StateLocked,
    StateWriteError,
)
from runner.state.files import atomic_write
from runner.state.lock import StateLock
from runner.state.portfolio import Portfolio
from runner.state.position import ReservePosition, TradingPosition
from runner.state.segments import SegmentedStateStore, open_store, remove_leftovers
from runner.state.serialization import decode_state, encode_state, to_builtins
from runner.state.state import SCHEMA_VERSION, State, SyncState, UniverseIdentity
from runner.state.statistics import CycleStatistics
from runner.state.store import MemoryStateStore, StateStore
from runner.state.trade import BlockchainTransaction, TradeExecution, TradeStatus, TradeType
from runner.state.vocabulary import (
    CheckAction,
    CheckKind,
    ClosedBy,
    CycleKind,
    MismatchPolicy,
    PositionState,
    TradeSide,
)

__all__ = [
    "SCHEMA_VERSION",
    "AccountingCheck",
    "AccountingRow",
    "BalanceUpdate",
    "BalanceUpdateCause",
    "BlockchainTransaction",
    "CheckAction",
    "CheckKind",
    "ClosedBy",
    "CycleKind",
    "CycleStatistics",
    "MemoryStateStore",
    "MismatchPolicy",
    "Portfolio",
    "PositionState",
    "ReservePosition",
    "SegmentedStateStore",
    "State",
    "StateDamaged",
    "StateError",
    "StateFormatError",
    "StateInvariantError",
    "StateLock",
    "StateLocked",
    "StateStore",
    "StateWriteError",
    "SyncState",
    "TradeExecution",
    "TradeSide",
    "TradeStatus",
    "TradeType",
    "TradingPosition",
    "UniverseIdentity",
    "Verdict",
    "atomic_write",
    "decode_state",
    "encode_state",
    "open_store",
    "remove_leftovers",
    "to_builtins",
]
