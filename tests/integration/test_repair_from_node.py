"""Repair asks the node, never a process's memory: a restarted process sees what the node holds.

The incident: blocks stalled, the runner broadcast a swap and died before confirming; a
new process repaired it as "nonce used by another transaction, never mined" and put the
reserve back; one block later the same transaction succeeded and the books were wrong.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.chains import ChainPool
from runner.chain.client import ChainClient
from runner.chain.node import RpcBackend
from runner.chain.wallet import Wallet
from runner.errors import SimulatedCrash
from runner.runner import ChainStrategyRunner
from runner.state import TradeStatus
from runner.steps import Step
from tests.integration.worlds import make_bench

pytestmark = pytest.mark.anvil


def _die_at(step: Step):  # type: ignore[no-untyped-def]
    def hook(name: Step) -> None:
        if name == step:
            raise SimulatedCrash(name)
    return hook


class TestRepairFromNode:
    def test_a_broadcast_still_pending_is_left_alone_by_a_new_process(self, chain_pool: ChainPool) -> None:
        """With blocks stalled, a new process's repair leaves the pending trades unresolved;
        once a block includes them, repair settles them from their receipts."""
        b = make_bench(chain_pool, "anvil")
        b.at(0)
        b.world.deposit("alice", Decimal(10_000))
        b.chain.automine = False  # blocks stall: broadcasts stay in the node's mempool
        b.runner.step_hook = _die_at(Step.confirm)
        with pytest.raises(SimulatedCrash):
            b.tick(0)
        b.store.save(b.state)  # what the dead process had written ahead: hashes, nonces
        state = b.store.load()
        assert {t.status for t in state.portfolio.all_trades()} == {TradeStatus.broadcasted}
        # A new process: a new connection to the node, no memory of what was sent.
        fresh = RpcBackend(chain_pool.node_url)
        chain = ChainClient(fresh, clock=b.chain.clock)
        runner = ChainStrategyRunner(chain=chain, universe=b.world.universe, strategy=b.runner.strategy,
                                     parameters={}, asset_manager=Wallet.from_label("asset-manager"))
        report = runner.repair(state, b.at(0))
        assert report.repaired == [] and len(report.unresolved) == 2
        assert {t.status for t in state.portfolio.all_trades()} == {TradeStatus.broadcasted}
        assert state.portfolio.cash() == b.state.portfolio.cash()  # no reserve put back
        b.chain.automine = True
        b.chain.mine()  # the node mines them
        report = runner.repair(state, b.at(0))
        assert len(report.settled) == 2 and report.unresolved == []
        assert {t.status for t in state.portfolio.all_trades()} == {TradeStatus.success}
        fresh.close()
