"""The sync's shares at a rebase's block, worked out from the head and the logs since,
against the chain's own answer at that block (the chain is the truth: this is the read the
sync no longer makes, because a restarted node cannot answer it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.scenario import load_scenario
from runner.models.shares import TRANSFER_SHARES
from runner.models.sync import VaultSyncModel
from runner.universe import Token

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios/rebase-then-share-moves-before-sync.yaml"


def test_shares_at_a_rebase_are_the_chains_at_its_block(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[tuple[int, tuple[int, int], list[Any], int]] = []
    worked_out = VaultSyncModel._shares_at

    def compared(self: VaultSyncModel, token: Token, block: int) -> tuple[int, int]:
        got = worked_out(self, token, block)
        truth = self.chain.read_many([(token.address, self._shares_of, (self.universe.vault,)),
                                      (token.address, self._total_shares, ())], block)
        moves = sum(1 for log in self._logs if log.block_number > block and log.topics
                    and log.topics[0] == TRANSFER_SHARES.topic)
        seen.append((block, got, truth, moves))
        return got

    monkeypatch.setattr(VaultSyncModel, "_shares_at", compared)
    pool = ChainPool()
    try:
        result = ScenarioRun(load_scenario(SCENARIO), backend="revm", pool=pool, state_dir=tmp_path).run()
    finally:
        pool.close()
    assert result.error is None
    assert len(seen) == 2 and all(moves >= 2 for *_, moves in seen)  # both rebases had share moves after them
    for block, got, truth, _ in seen:
        assert list(got) == truth, f"block {block}"
