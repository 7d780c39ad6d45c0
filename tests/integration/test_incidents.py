"""The two production incidents of the peer project, each a bundled scenario that passes on
the fixed runner and fails when the bug is planted back (so the scenario really pins it).

- asset-manager-key-used-outside: an operator uses the runner's key; a runner signing
  with its cached nonce has every later transaction refused as "nonce too low".
- lagging-replica: behind a load balancer one node lags a transaction behind; a strict
  nonce check against a single stale read crashed the live loop. The runner is a real
  process there, so the bug is planted in that process (a `sitecustomize` on its path).
"""

from __future__ import annotations

import os
import textwrap
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
LAGGING_REPLICA = INCIDENTS / "lagging-replica.yaml"

STRICT_NONCE_CHECK = textwrap.dedent("""
    # The bug of the lagging-replica incident, planted in the runner process at start-up:
    # the nonce read from the node must not be below what this process has used.
    from runner.errors import TradeExecutionError
    from runner.runner import ChainStrategyRunner

    _resync = ChainStrategyRunner._resync_nonce

    def _strict(self, wallet):
        used = wallet.nonce
        _resync(self, wallet)
        if wallet.nonce < used:
            raise TradeExecutionError(f"nonce check failed: the node says {wallet.nonce}, we used {used}")

    ChainStrategyRunner._resync_nonce = _strict
""")


def _run(path: Path, backend: str, pool: ChainPool) -> RunResult:
    return ScenarioRun(load_scenario(path.relative_to(ROOT)), backend=backend, pool=pool).run()


def _failed(result: RunResult) -> list[str]:
    return [f"{r.line}: {r.message}" for r in result.failed_expectations]


@pytest.mark.parametrize("backend", ["eth-tester", "revm"])
def test_a_used_nonce_is_refused_in_the_nodes_words(backend: str, chain_pool: ChainPool) -> None:
    """eth-tester said py-evm's 'Invalid transaction nonce: Expected 5, but got 2', which
    neither the runner's stale-nonce recovery nor the retry policy recognised; every
    in-process backend now refuses as anvil does."""
    from runner.chain.errors import TransactionRejected
    from tests.integration.worlds import make_bench

    b = make_bench(chain_pool, backend)
    admin = b.world.accounts.admin
    b.chain.sync_nonce(admin)
    b.chain.transact(admin, admin.address, b"", 21_000)
    admin.nonce -= 1  # a stale cache, as after the key was used elsewhere
    with pytest.raises(TransactionRejected) as refused:
        b.chain.send(admin, b.world.universe.vault, b"", 21_000)  # another transaction at the used nonce
    assert refused.value.message == "nonce too low"


class TestAssetManagerKeyUsedOutside:
    @pytest.mark.parametrize("backend", ["eth-tester", "revm"])
    def test_the_fixed_runner_passes(self, backend: str, chain_pool: ChainPool) -> None:
        """Resyncing before every signature: every trade after the operator's transactions succeeds."""
        result = _run(KEY_USED_OUTSIDE, backend, chain_pool)
        assert _failed(result) == []
        assert result.unexpected_violations == []
        trades = list(result.state.portfolio.all_trades())
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


@pytest.mark.anvil
class TestLaggingReplica:
    def test_the_runner_neither_crashes_nor_double_sends(self, chain_pool: ChainPool) -> None:
        """Stale nonce reads on two cycles: one refused signature each, re-signed once at the
        next unused nonce; every mined transaction of the runner at its own nonce."""
        result = _run(LAGGING_REPLICA, "anvil", chain_pool)
        assert _failed(result) == [] and result.unexpected_violations == []
        assert result.error is None and result.crashes == 0 and result.node_errors == 0
        trades = list(result.state.portfolio.all_trades())
        assert [t.status.value for t in trades] == ["success"] * 3
        mined = [tx.nonce for t in trades for tx in t.blockchain_transactions if tx.block_number is not None]
        refused = [tx.nonce for t in trades for tx in t.blockchain_transactions if tx.block_number is None]
        assert mined == [0, 2, 4] and refused == [1, 3]  # 1 and 3: the postNavs the replica had not seen

    def test_a_strict_nonce_check_fails_it(self, chain_pool: ChainPool, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
        """The bug planted back in the runner process: its loop stops at the first stale read."""
        (tmp_path / "sitecustomize.py").write_text(STRICT_NONCE_CHECK)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
        result = _run(LAGGING_REPLICA, "anvil", chain_pool)
        assert result.error is not None and "nonce check failed" in result.error
        assert _failed(result), "the scenario no longer catches a runner that dies of one stale nonce read"

    @pytest.mark.parametrize("backend", ["eth-tester", "revm"])
    def test_in_process_backends_are_refused_at_check(self, backend: str) -> None:
        """The wire needs a runner process: `harness check` names the backend, at the event's line."""
        from harness.errors import HarnessError
        from harness.scenario import check_for_backend

        scenario = load_scenario(LAGGING_REPLICA.relative_to(ROOT))
        with pytest.raises(HarnessError) as caught:
            check_for_backend(scenario, backend)
        lines = str(caught.value).splitlines()
        assert lines[0] == (f"scenarios/incidents/lagging-replica.yaml:25: timeline[2].wire_fault: expected backend "
                            f"anvil/anvil-fork (set chain: {{backend: anvil}} or run with --backend anvil), "
                            f"found backend {backend}")

    def test_an_in_process_runner_on_anvil_is_refused_at_the_event(self, chain_pool: ChainPool) -> None:
        """On anvil with the runner hosted in-process there is no wire: one line at the event."""
        from harness.errors import HarnessError

        scenario = load_scenario(LAGGING_REPLICA.relative_to(ROOT))
        with pytest.raises(HarnessError) as caught:
            ScenarioRun(scenario, backend="anvil", pool=chain_pool, host="in-process").run()
        assert str(caught.value).startswith("scenarios/incidents/lagging-replica.yaml:25: timeline: wire_fault: ")
        assert "a runner hosted in-process cannot meet a fault of the wire" in str(caught.value)


@pytest.mark.anvil
def test_wire_fault_modes_in_a_scenario_break_the_real_transport(chain_pool: ChainPool) -> None:
    """`wire_fault: {mode: ...}` arms the proxy in front of the runner process: a broadcast
    answered by a 429 (day 0), by a reset after the node got it (day 1), delivered twice (day 2): each cycle
    still trades once (one mined transaction per trade), and the journal says what was armed."""
    from harness.scenario import parse_scenario_text

    text = LAGGING_REPLICA.read_text()
    text = text.replace("wire_fault: {lag: 1, method: get_nonce, calls: 1}",
                        "wire_fault: {mode: reset_after, method: send_raw_transaction}")
    text = text.replace("wire_fault: {lag: 1, method: get_nonce}", "wire_fault: {mode: duplicate_send, calls: 2}")
    text = text.replace("  - {at: 1d, price_shock", "  - {at: 0s, wire_fault: {mode: http_429, calls: 2}}\n  - {at: 1d, price_shock")
    scenario = parse_scenario_text(text, "<wire modes>")
    result = ScenarioRun(scenario, backend="anvil", pool=chain_pool).run()
    assert _failed(result) == [] and result.unexpected_violations == [] and result.error is None
    trades = list(result.state.portfolio.all_trades())
    assert [t.status.value for t in trades] == ["success"] * 3
    assert all(sum(tx.block_number is not None for tx in t.blockchain_transactions) == 1 for t in trades)
    events = [e for entry in result.journal for e in entry.events]
    assert "wire fault: the next 1 send_raw_transaction request(s) meet reset_after" in events
    assert "wire fault: the next 2 request(s) meet duplicate_send" in events
