"""The auditor's second view: the vault's books rebuilt from chain logs alone.

    build_audit(backend, universe, state, first_block, last_block) -> ChainAudit

`harness.audit.chain` reads the vault's and every universe token's logs over the run's
blocks (and balances where no log tells: rebases, interest, a rebasing token's rounding)
into per-asset books without looking at the runner's state; `harness.audit.compare` then
pairs every line with the ledger's trades, balance updates and corrections and classifies
it: matched, ledger-only, chain-only or amount differs (the last three flagged, and
explained when the runner's own accounting check saw the same difference).
"""

from __future__ import annotations

from harness.audit.chain import ChainBooks, read_books
from harness.audit.compare import compare
from harness.audit.model import (
    STATUS_WORDS,
    AssetBook,
    AuditRow,
    Cause,
    ChainAudit,
    ChainEvent,
    ChainLine,
    Status,
)
from runner.chain.backend import Backend
from runner.state import State
from runner.universe import Universe


def build_audit(backend: Backend, universe: Universe, state: State, first_block: int, last_block: int) -> ChainAudit:
    """Books from the chain over first_block..last_block, then compared with `state`."""
    books = read_books(backend, universe, first_block, last_block)
    return compare(books, state, universe, backend)


__all__ = ["STATUS_WORDS", "AssetBook", "AuditRow", "Cause", "ChainAudit", "ChainBooks", "ChainEvent", "ChainLine",
           "Status", "build_audit", "read_books"]
