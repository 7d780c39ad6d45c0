"""Where the runner runs: it changes what is checked and how loudly failures stop it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExecutionMode(StrEnum):
    live = "live"
    unit_testing = "unit_testing"
    simulation = "simulation"


@dataclass(frozen=True)
class ExecutionContext:
    mode: ExecutionMode = ExecutionMode.simulation

    @property
    def is_live(self) -> bool:
        """Live-like runs (live and scenario simulations on a chain) check balances."""
        return self.mode in (ExecutionMode.live, ExecutionMode.simulation)


live_context = ExecutionContext(ExecutionMode.live)
unit_test_context = ExecutionContext(ExecutionMode.unit_testing)
simulation_context = ExecutionContext(ExecutionMode.simulation)
