"""What a run hands back: the final state and everything recorded on the way.

Its own module so that snapshots, reports, the CLI and the pytest plugin depend on the
result of a run, not on the engine that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.audit.model import ChainAudit
from harness.invariants.core import NavPoint, Violation
from harness.journal import JournalEntry
from harness.scenario.model import Scenario
from harness.version import HARNESS_VERSION
from harness.vocabulary import WithdrawalStatus
from runner.state import State


@dataclass
class ExpectationResult:
    line: int
    kind: str
    at: datetime
    passed: bool
    message: str


@dataclass(frozen=True)
class WithdrawalRecord:
    """One investor redemption as the chain answered it: what the `withdrawal`
    expectation asserts (a refused redemption used to be a journal line and nothing more)."""

    at: datetime
    by: str
    status: WithdrawalStatus
    reason: str = ""


@dataclass
class RunResult:
    scenario: Scenario
    backend: str
    seed: int
    state: State
    journal: list[JournalEntry] = field(default_factory=list)
    expectations: list[ExpectationResult] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    crashes: int = 0
    node_errors: int = 0
    retries: list[str] = field(default_factory=list)
    state_path: Path | None = None
    node_reads: int = 0
    node_sends: int = 0
    violations: list[Violation] = field(default_factory=list)
    invariant_checks: int = 0
    chain_nav: list[NavPoint] = field(default_factory=list)  # chain-truth NAV after each tick
    audit: ChainAudit | None = None  # the vault's books from chain logs alone, against the ledger
    withdrawals: list[WithdrawalRecord] = field(default_factory=list)

    @property
    def failed_expectations(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if not e.passed]

    @property
    def unexpected_violations(self) -> list[Violation]:
        """Violations no `expect: {violation: NAME}` entry asked for at their instant."""
        wanted = {(e.at, e.message.partition(":")[0]) for e in self.expectations if e.kind == "violation" and e.passed}
        return [v for v in self.violations if (v.time, v.invariant) not in wanted]

    @property
    def unexpected_error(self) -> bool:
        """The run stopped with an error no `expect: {error: ...}` entry asked for."""
        return bool(self.error) and not any(e.kind == "error" for e in self.expectations)

    def fingerprint(self) -> str:
        return fingerprint(self.scenario, self.seed, self.backend)


def fingerprint(scenario: Scenario, seed: int, backend: str) -> str:
    """Everything that determines a run's bytes: the input, the seed, the chain, the code."""
    return (f"scenario={scenario.name} sha256={scenario.source.sha256[:16]} seed={seed} "
            f"backend={backend} harness={HARNESS_VERSION}")


def replay_command(scenario: Scenario, seed: int, backend: str) -> str:
    """The one command that reproduces a run exactly."""
    return f"harness run {scenario.source.path} --backend {backend} --seed {seed}"


__all__ = ["ExpectationResult", "RunResult", "fingerprint", "replay_command"]
