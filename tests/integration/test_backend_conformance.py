"""One contract, every chain backend: the runner may rely on exactly these behaviours.

Run against the embedded chain and anvil alike (as web3.py runs one suite against
several providers); a backend that differs fails here before it skews a snapshot.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.chains import ChainPool
from runner.chain.abi import artifact
from runner.chain.backend import Call
from runner.chain.errors import CallReverted
from tests.integration.worlds import make_bench

BACKENDS = ["eth-tester", pytest.param("anvil", marks=pytest.mark.anvil)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestBackendContract:
    def test_blocks_follow_the_clock(self, chain_pool: ChainPool, backend: str) -> None:
        """Each sealed block carries max(clock, previous + 1) as its timestamp."""
        b = make_bench(chain_pool, backend)
        ts = int(b.at(3).timestamp())
        n1 = b.chain.mine()
        n2 = b.chain.mine()
        be = b.chain.backend
        assert (be.block_timestamp(n1), be.block_timestamp(n2)) == (ts, ts + 1)
        assert n2 == n1 + 1 == be.block_number()

    def test_revert_reason_of_a_call(self, chain_pool: ChainPool, backend: str) -> None:
        """A reverting eth_call raises CallReverted with the decoded Error(string)."""
        b = make_bench(chain_pool, backend)
        router = artifact("Router")
        bogus = [b.world.universe.reserve.address, b"\x01" * 20]
        with pytest.raises(CallReverted) as info:
            b.chain.read(b.world.universe.router, router.fn("getAmountsOut"), 10, bogus)
        assert info.value.reason == "UniswapV2Library: PAIR_NOT_FOUND"

    def test_call_many_matches_single_calls(self, chain_pool: ChainPool, backend: str) -> None:
        """A batch of reads returns what the reads return one by one, in order."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        b.world.deposit("alice", Decimal(123))
        fn = artifact("TestToken").fn("balanceOf")
        u = b.world.universe
        calls = [Call(t.address, fn.encode(u.vault)) for t in u.tokens.values()]
        batched = b.chain.backend.call_many(calls)
        single = [b.chain.backend.call(c.to, c.data) for c in calls]
        assert batched == single
        assert fn.decode_one(batched[0]) == 123 * 10**6

    def test_logs_are_filtered_by_address_topic_and_range(self, chain_pool: ChainPool, backend: str) -> None:
        """get_logs returns the vault's Deposit logs of the asked range only, with log indexes."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        start = b.chain.block_number() + 1
        b.world.deposit("alice", Decimal(1))
        mid = b.chain.block_number()
        b.world.deposit("alice", Decimal(2))
        topic = artifact("Vault").event("Deposit").topic
        vault = b.world.universe.vault
        both = b.chain.backend.get_logs(vault, [topic], start, b.chain.block_number())
        first = b.chain.backend.get_logs(vault, [topic], start, mid)
        assert [lg.block_number for lg in first] == [mid]
        assert len(both) == 2 and all(lg.topics[0] == topic for lg in both)
        assert [lg.log_index for lg in both] == [lg.log_index for lg in both if lg.log_index >= 0]

    def test_failed_transaction_receipt(self, chain_pool: ChainPool, backend: str) -> None:
        """A reverted transaction has status 0 and its reason; out-of-gas uses its whole limit."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        b.world.arm_fault(None, "out_of_gas", "")
        u = b.world.universe
        data = artifact("Router").fn("swapExactTokensForTokens").encode(
            1, 0, [u.reserve.address, u.tokens["WETH"].address], b.world.accounts.admin.address, 2**40)
        receipt = b.chain.transact(b.world.accounts.admin, u.router, data, 400_000)
        assert receipt.status == 0 and receipt.out_of_gas and receipt.gas_used == 400_000
        b.world.disarm_faults()
        b.world.arm_fault(None, "revert", "NOPE")
        receipt = b.chain.transact(b.world.accounts.admin, u.router, data, 400_000)
        assert (receipt.status, receipt.revert_reason, receipt.out_of_gas) == (0, "NOPE", False)

    def test_snapshot_and_revert_restore_state_and_take_fresh_ids(self, chain_pool: ChainPool, backend: str) -> None:
        """Reverting restores balances and height; a second snapshot after it works again."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        snap = b.chain.snapshot()
        height = b.chain.block_number()
        b.world.deposit("alice", Decimal(5))
        b.chain.revert(snap)
        assert b.chain.block_number() == height
        assert b.world.investor_shares("alice") == 0
        snap2 = b.chain.snapshot()
        b.chain.sync_nonce(b.world.accounts.admin)
        b.chain.sync_nonce(b.world.accounts.investor("alice"))
        b.world.deposit("alice", Decimal(5))
        b.chain.revert(snap2)
        assert b.world.investor_shares("alice") == 0

    def test_nonce_counts_sent_transactions(self, chain_pool: ChainPool, backend: str) -> None:
        """The node's nonce of an account equals the transactions it sent."""
        b = make_bench(chain_pool, backend)
        admin = b.world.accounts.admin
        before = b.chain.backend.get_nonce(admin.address)
        b.at(0)
        b.world.deposit("alice", Decimal(1))  # admin mints once
        assert b.chain.backend.get_nonce(admin.address) == before + 1 == admin.nonce


@pytest.mark.anvil
class TestParity:
    def test_world_is_identical_on_every_backend(self, chain_pool: ChainPool) -> None:
        """Same addresses, block height and chain id after deployment on both backends."""
        worlds = {name: make_bench(chain_pool, name) for name in ("eth-tester", "anvil")}
        def fingerprint(b: object) -> tuple[object, ...]:
            u = b.world.universe  # type: ignore[attr-defined]
            chain = b.chain  # type: ignore[attr-defined]
            return (u.vault, u.router, tuple(t.address for t in u.tokens.values()),
                    tuple(p.address for p in u.pools.values()), chain.block_number(), chain.chain_id)
        assert fingerprint(worlds["eth-tester"]) == fingerprint(worlds["anvil"])
