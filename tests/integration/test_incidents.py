"""The two production incidents of the peer project, each a bundled scenario that passes on
the fixed runner and fails when the bug is planted back (so the scenario really pins it).

- asset-manager-key-used-outside: an operator uses the runner's key; a runner signing
  with its cached nonce has every later transaction refused as "nonce too low".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.result import RunResult
from harness.scenario import load_scenario
from runner.chain.wallet import Wallet
from runner.runner import ChainStrategyRunner

ROOT = Path(__file__).resolve().parents[2]
INCIDENTS = ROOT / "scenarios" / "incidents"
KEY_USED_OUTSIDE = INCIDENTS / "asset-manager-key-used-outside.yaml"


def _run(path: Path, backend: str, pool: ChainPool) -> RunResult:
    return ScenarioRun(load_scenario(path.relative_to(ROOT)), backend=backend, pool=pool).run()


def _failed(result: RunResult) -> list[str]:
    return [f"{r.line}: {r.message}" for r in result.failed_expectations]


class TestAssetManagerKeyUsedOutside:
    @pytest.mark.parametrize("backend", ["eth-tester", "revm"])
    def test_the_fixed_runner_passes(self, backend: str, chain_pool: ChainPool) -> None:
        """Resyncing before every signature: every trade after the operator's transactions succeeds."""
        result = _run(KEY_USED_OUTSIDE, backend, chain_pool)
        assert _failed(result) == []
        assert result.unexpected_violations == []
        trades = result.state.portfolio.all_trades()
        assert [t.status.value for t in trades] == ["success"] * 3
        assert not any("refused" in note for t in trades for note in t.notes)  # no refusal to recover from

    @pytest.mark.parametrize("backend", ["eth-tester", "revm"])
    def test_a_runner_signing_with_its_cached_nonce_fails_it(self, backend: str, chain_pool: ChainPool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """The bug planted back: the nonce resync is a no-op, so the runner signs with what it
        cached; its one re-sign at the refused nonce + 1 is still behind the operator's three."""
        def cached(self: ChainStrategyRunner, wallet: Wallet) -> None:
            return None

        monkeypatch.setattr(ChainStrategyRunner, "_resync_nonce", cached)
        result = _run(KEY_USED_OUTSIDE, backend, chain_pool)
        failed = _failed(result)
        assert failed, "the scenario no longer catches a runner that signs with a cached nonce"
        assert any("nonce too low" in (t.failure_reason or "") for t in result.state.portfolio.all_trades())
