"""The snapshot document of a run: everything worth reviewing, normalised and sorted.

Only values that are the same on every backend and every run go in: amounts (as
decimal strings), statuses, reasons, scenario times, block numbers and transaction
hashes (identical because blocks are sealed explicitly and signatures are
deterministic). Gas used and anything wall-clock never go in.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec

from harness.result import RunResult
from runner.state import State, TradeExecution, TradingPosition

VOLATILE_TX_FIELDS = ("gas_used",)


def to_builtins(obj: Any) -> Any:
    """Plain data with Decimals kept, so `render` can print them without exponents."""
    return msgspec.to_builtins(obj, builtin_types=(Decimal,), str_keys=True)


def plain(d: Decimal) -> str:
    """A Decimal in positional notation: 0.000000001, never 1E-9; zero is "0"."""
    if d == 0:
        return "0"
    return format(d, "f")


def _trade(t: TradeExecution) -> dict[str, Any]:
    doc = to_builtins(t)
    for tx in doc["blockchain_transactions"]:
        for k in VOLATILE_TX_FIELDS:
            tx.pop(k, None)
    return {k: v for k, v in doc.items() if v not in (None, [], "")}


def _position(p: TradingPosition, state: State) -> dict[str, Any]:
    doc = to_builtins(p)
    doc["trades"] = [_trade(t) for t in p.trades.values()]
    doc["state"] = p.state
    doc["value"] = state.portfolio.position_value(p)
    return {k: v for k, v in doc.items() if v not in (None, [], "")}


def snapshot_document(result: RunResult) -> dict[str, Any]:
    state = result.state
    portfolio = state.portfolio
    positions = sorted(portfolio.all_positions(), key=lambda p: p.position_id)
    return {
        "scenario": {"name": result.scenario.name, "seed": result.seed},
        "outcome": {
            "error": result.error,
            "error_kind": result.error_kind,
            "crashes": result.crashes,
            "node_errors": result.node_errors,
            "node_retries": result.retries,
            "cycles": state.cycle,
        },
        "final": {
            "nav": portfolio.nav(),
            "cash": portfolio.cash(),
            "positions_value": portfolio.positions_value(),
            "reserve": to_builtins(portfolio.reserve),
        },
        "positions": [_position(p, state) for p in positions],
        "balance_updates": [to_builtins(b) for b in portfolio.balance_updates.values()],
        "repaired_trades": to_builtins(result.repaired),
        "accounting_checks": [to_builtins(c) for c in state.accounting_checks],
        "journal": [to_builtins(e) for e in result.journal],
        "expectations": [to_builtins(e) for e in result.expectations],
        "statistics": [to_builtins(s) for s in state.stats],
        "violations": [{k: v for k, v in to_builtins(x).items() if k != "replay"} for x in result.violations],
    }


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return plain(o)
    raise TypeError(f"not serialisable in a snapshot: {type(o).__name__}")


def render(doc: dict[str, Any]) -> bytes:
    """Sorted keys, two-space indent, trailing newline: stable and diffable."""
    return (json.dumps(doc, indent=2, sort_keys=True, default=_default, ensure_ascii=False) + "\n").encode()
