"""The runner's whole cycle through the wire proxy: faults on the real transport, a stale replica.

The world and the runner share one `AnvilBackend` pointed at the proxy (as the harness
would wire it), wrapped in the runner's `RetryingBackend`. A fault armed for the tick
hits the runner's own requests; the cycle must finish with exact books, no traceback, no
hang, and no broadcast turned into two transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from harness.anvil_node import AnvilNode
from harness.chains import GENESIS, ChainPool
from harness.wire import DuplicateAnswer, WireFault, WireProxy
from runner.accounting import chain_balances, ledger_balances
from runner.chain.methods import NodeMethod
from runner.chain.retry import RetryingBackend
from runner.state import TradeStatus
from tests.integration.worlds import Bench, make_bench

pytestmark = pytest.mark.anvil

TIMEOUT = 0.5  # float-ok: seconds; the runner's client timeout in these tests


@pytest.fixture(scope="module")
def proxy() -> Iterator[WireProxy]:
    """An anvil of this module's own behind a wire proxy."""
    with AnvilNode(genesis_timestamp=GENESIS) as node, WireProxy(node.url, hold=10.0, slow=TIMEOUT / 5) as p:
        yield p


@pytest.fixture(scope="module")
def wire_pool(proxy: WireProxy) -> Iterator[ChainPool]:
    """Chains whose every request crosses the proxy (the world is deployed once, then reverted to)."""
    pool = ChainPool(anvil_url=proxy.url)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def bench(wire_pool: ChainPool, proxy: WireProxy) -> Iterator[Bench]:
    """A runner on the proxied anvil with the retry policy, invested on day 0, the price moved on day 1."""
    b = make_bench(wire_pool, "anvil", parameters={"weights": {"WETH": "0.5", "stETH": "0.5"}})
    rpc = wire_pool._anvil.rpc if wire_pool._anvil is not None else None
    assert rpc is not None
    rpc.timeout = TIMEOUT  # takes effect on the next connection
    rpc.close()
    b.chain.backend = RetryingBackend(b.chain.backend)
    b.at(0)
    b.world.deposit("alice", Decimal(10_000))
    b.tick(0)
    b.at(1)
    b.world.price_shock(b.world.universe.pool("WETH/USDC"), Decimal("0.2"), None)
    try:
        yield b
    finally:
        proxy.disarm()
        proxy.unlag()


def runner_txs(b: Bench) -> list[tuple[int, str]]:
    """Every transaction the runner's trades sent (a refused signature, kept in the trade's
    history, never reached the chain)."""
    return [(tx.nonce, tx.tx_hash) for t in b.state.portfolio.all_trades() for tx in t.blockchain_transactions
            if tx.broadcast_at is not None]


def assert_clean_cycle(b: Bench, traded: list[int]) -> None:
    """Every trade of the tick settled from its receipt; books equal chain; one tx per nonce."""
    trades = [t for t in b.state.portfolio.all_trades() if t.trade_id in traded]
    assert trades and all(t.status == TradeStatus.success for t in trades)
    assert chain_balances(b.chain, b.world.universe) == ledger_balances(b.state, b.world.universe)
    nonces = [n for n, _h in runner_txs(b)]
    assert len(nonces) == len(set(nonces))
    for t in trades:
        receipt = b.chain.backend.get_receipt(bytes.fromhex(t.blockchain_transactions[-1].tx_hash[2:]))
        assert receipt is not None and receipt.success


class TestCycleThroughFaults:
    @pytest.mark.parametrize("fault,method", [
        *((k, None) for k in WireFault if k != WireFault.duplicate_send),
        (WireFault.duplicate_send, NodeMethod.send_raw_transaction),
        (WireFault.reset_after, NodeMethod.send_raw_transaction),
        (WireFault.timeout, NodeMethod.send_raw_transaction),
        (WireFault.truncated, NodeMethod.send_raw_transaction),
        (WireFault.reset, NodeMethod.get_receipts),
        (WireFault.http_5xx, NodeMethod.get_nonce),
    ])
    def test_the_cycle_survives(self, bench: Bench, proxy: WireProxy, fault: WireFault,
                                method: NodeMethod | None) -> None:
        """One fault on the runner's requests: the tick trades, settles and balances as without it."""
        before = proxy.stats().by_kind[fault]
        proxy.arm(fault, calls=1, method=method)
        details = bench.tick(1)
        assert proxy.disarm() == 0 and proxy.stats().by_kind[fault] == before + 1
        assert details["status"] == "ok"
        assert_clean_cycle(bench, details["trades"])

    def test_a_duplicate_answered_already_known(self, bench: Bench, proxy: WireProxy) -> None:
        """Each swap delivered twice and the repeat's "already imported" returned: sent, once each."""
        proxy.arm(WireFault.duplicate_send, calls=2, answer=DuplicateAnswer.second)
        details = bench.tick(1)
        assert proxy.disarm() == 0
        assert_clean_cycle(bench, details["trades"])

    def test_a_seeded_storm(self, bench: Bench, proxy: WireProxy) -> None:
        """Random resets, 5xx, 429 and duplicates on a fifth of the requests for two cycles: exact books."""
        proxy.schedule(5, {WireFault.reset: 0.05, WireFault.http_5xx: 0.05, WireFault.http_429: 0.05,
                           WireFault.duplicate_send: 0.05})
        try:
            d1 = bench.tick(1)
            bench.at(2)
            bench.world.price_shock(bench.world.universe.pool("stETH/USDC"), Decimal("-0.1"), None)
            d2 = bench.tick(2)
        finally:
            proxy.unschedule()
        assert proxy.stats().faults > 0
        assert_clean_cycle(bench, d1["trades"] + d2["trades"])


class TestLaggingReplica:
    def test_one_stale_nonce_read_neither_crashes_nor_double_sends(self, bench: Bench, proxy: WireProxy) -> None:
        """The incident: the load balancer sends the pre-trade nonce read to a node one block
        (one transaction: yesterday's postNav) behind. The cycle must trade with fresh nonces."""
        am = bench.runner.asset_manager
        assert bench.chain.backend.get_nonce(am.address) == am.nonce  # local and node agree before
        proxy.lag(1, NodeMethod.get_nonce, calls=1)
        details = bench.tick(1)  # raised TransactionRejected("nonce too low") in the incident
        assert proxy.stats().lagged >= 1
        assert_clean_cycle(bench, details["trades"])

    def test_receipts_one_block_behind_leave_trades_pending_not_the_loop_dead(self, bench: Bench,
                                                                              proxy: WireProxy) -> None:
        """The receipt reads of the tick go to a replica a block behind: the trades stay
        'broadcasted' (correct), and the next tick settles them from their receipts."""
        with proxy.lagging(1, NodeMethod.get_receipt):
            details = bench.tick(1)
        traded = [t for t in bench.state.portfolio.all_trades() if t.trade_id in details["trades"]]
        assert traded and all(t.status == TradeStatus.broadcasted for t in traded)
        bench.at(2)
        after = bench.tick(2)
        assert set(after["repaired_trades"]) == {t.trade_id for t in traded}
        assert_clean_cycle(bench, details["trades"])
