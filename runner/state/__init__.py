"""The strategy's persisted state: typed models with exact Decimal amounts."""

from runner.state.accounting import AccountingCheck, AccountingRow, Verdict
from runner.state.balance_update import BalanceUpdate, BalanceUpdateCause
from runner.state.portfolio import Portfolio
from runner.state.position import ReservePosition, TradingPosition
from runner.state.segments import SegmentedStateStore, open_store
from runner.state.serialization import StateFormatError, decode_state, encode_state, to_builtins
from runner.state.state import SCHEMA_VERSION, State, SyncState
from runner.state.statistics import CycleStatistics
from runner.state.store import MemoryStateStore, StateStore, atomic_write
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
    "StateFormatError",
    "StateStore",
    "SyncState",
    "TradeExecution",
    "TradeSide",
    "TradeStatus",
    "TradeType",
    "TradingPosition",
    "Verdict",
    "atomic_write",
    "decode_state",
    "encode_state",
    "open_store",
    "to_builtins",
]
