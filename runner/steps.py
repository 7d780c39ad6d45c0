"""The named steps of a strategy cycle, in the order a tick runs them.

One vocabulary for the runner (which reports each step to its step hook as it
completes), the scenario format (`crash: STEP`), the crash scenarios, the process-mode
kill switch and the reports. A crash at step S means the process dies just before S
completes: whatever S wrote to memory is lost, whatever it sent to the chain is not.
"""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    sync_portfolio = "sync_portfolio"
    """External events (deposits, redemptions, rebases, interest) booked from chain logs."""
    check_accounts = "check_accounts"
    """The start-of-cycle accounting check: on-chain balances against the ledger."""
    setup_routing = "setup_routing"
    """The cycle's routing state, pricing model and valuation model."""
    revalue_state = "revalue_state"
    """Every open position gets a fresh valuation price."""
    pretick_check = "pretick_check"
    """The universe's data is sane (pools exist, prices positive)."""
    on_clock = "on_clock"
    """The strategy decides its trades."""
    approve = "approve"
    """The approval model vetoes trades (recorded as such)."""
    broadcast = "broadcast"
    """Signed, saved (write-ahead) transactions reach the node."""
    confirm = "confirm"
    """Receipts are read and every trade is settled."""
    save_state = "save_state"
    """The cycle's state is saved through the store."""
    check_balances = "check_balances"
    """The post-execution balance check."""
    statistics = "statistics"
    """Per-cycle statistics, report hooks and visualisations."""


STEPS: tuple[Step, ...] = tuple(Step)
"""Every step, in execution order."""

__all__ = ["STEPS", "Step"]
