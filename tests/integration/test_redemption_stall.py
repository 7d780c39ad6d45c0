"""The redemption queue's payment under a stalled mempool (fuzz seed 1 run 176: the
runner paid the queue with `transact`, which raised when blocks were not produced).

The whole story (pending, a kill, waiting, resume, a drop and a fresh payment) is
scenarios/protocols/erc4626-queued-withdrawal-stalled.yaml and its snapshot; here, what
the snapshot cannot say directly: the pending call is in the state on disk, and on the
node, and a send-and-wait under a stall fails with a chain error of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.chains import GENESIS, ChainPool
from harness.engine import ScenarioRun
from harness.scenario.loader import parse_scenario_text
from runner.chain.client import ChainClient
from runner.chain.errors import ChainError, TransactionPending
from runner.chain.revm import RevmBackend
from runner.chain.wallet import Wallet
from runner.state import BalanceUpdateCause, open_store

ROOT = Path(__file__).resolve().parents[2]
STALLED = "scenarios/protocols/erc4626-queued-withdrawal-stalled.yaml"


def test_a_payment_blocks_do_not_mine_is_left_pending_in_the_state_file(chain_pool: ChainPool, tmp_path: Path) -> None:
    """Cut at the stalled cycle (no kill): the run ends without an error, the call is
    recorded in the saved state and the node holds it; nothing was booked for it."""
    kept = ("{at: 0s,", "{at: 1d6h,", "{at: 1d8h,", "{at: 1d12h,", "{at: 2d, accounting")
    text = "\n".join(line for line in (ROOT / STALLED).read_text().replace("until: 7d", "until: 2d").splitlines()
                     if not line.startswith("  - {") or line.startswith(tuple("  - " + k for k in kept)))
    scenario = parse_scenario_text(text, STALLED)
    result = ScenarioRun(scenario, backend="revm", pool=chain_pool, state_dir=tmp_path).run()
    assert result.error is None and not result.violations
    pending = result.state.pending_fulfilment
    assert pending is not None and pending.function == "fulfillRedemptions"
    assert "unconfirmed" in result.state.stats[-1].status
    saved = open_store(tmp_path / "state.json").load().pending_fulfilment
    assert saved == pending
    assert not [b for b in result.state.portfolio.balance_updates.values() if b.cause == BalanceUpdateCause.redemption]


def test_transact_under_a_stall_raises_transaction_pending() -> None:
    admin = Wallet.from_label("admin")
    chain = ChainClient(RevmBackend(GENESIS, [admin.address], 10**24), clock=GENESIS + 1, automine=False)
    with pytest.raises(TransactionPending, match="still pending") as caught:
        chain.transact(admin, b"\x44" * 20, b"", 21_000, value=1)
    assert isinstance(caught.value, ChainError) and isinstance(caught.value, RuntimeError)
    assert chain.backend.pending_among([caught.value.tx_hash]) == {caught.value.tx_hash}
