"""One contract, every chain backend: the runner may rely on exactly these behaviours.

Run against the embedded chain, anvil and revm alike (as web3.py runs one suite against
several providers); a backend that differs fails here before it skews a snapshot.
`TestDevChain` is the contract of the dev-chain extras (mempool, drop, impersonation,
balances, restarts) that the node backends, anvil and revm, offer.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.chains import ChainPool
from harness.node_faults import FaultInjectingBackend
from runner.chain.abi import artifact
from runner.chain.backend import Call
from runner.chain.errors import CallReverted, TransactionRejected
from runner.chain.retry import ALREADY_SENT, RetryingBackend
from tests.integration.worlds import make_bench

BACKENDS = ["eth-tester", pytest.param("anvil", marks=pytest.mark.anvil), "revm"]
DEV_CHAINS = [pytest.param("anvil", marks=pytest.mark.anvil), "revm"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=DEV_CHAINS)
def dev_chain(request: pytest.FixtureRequest) -> str:
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


    def test_call_at_an_earlier_block_reads_that_block(self, chain_pool: ChainPool, backend: str) -> None:
        """eth_call at block N sees the state after N, not the head's (historical reads)."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        vault = b.world.universe.vault
        usdc = b.world.universe.reserve.address
        balance_of = artifact("TestToken").fn("balanceOf")
        b.world.deposit("alice", Decimal(7))
        first = b.chain.block_number()
        b.world.deposit("alice", Decimal(5))
        b.chain.mine()  # an empty block on top: the earlier states are two blocks down
        assert b.chain.read(usdc, balance_of, vault, block=first - 1) == 0
        assert b.chain.read(usdc, balance_of, vault, block=first) == 7 * 10**6
        assert b.chain.read(usdc, balance_of, vault) == 12 * 10**6
        batched = b.chain.backend.call_many([Call(usdc, balance_of.encode(vault))], block=first)
        assert balance_of.decode_one(batched[0]) == 7 * 10**6
        assert b.chain.read(usdc, balance_of, vault) == 12 * 10**6  # the head is untouched after

    def test_log_indexes_run_across_the_transactions_of_a_block(self, chain_pool: ChainPool, backend: str) -> None:
        """A deposit is three transactions in one block; their logs are numbered 0..n-1 in order."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        b.world.deposit("alice", Decimal(3))
        head = b.chain.block_number()
        u = b.world.universe
        logs = b.chain.backend.get_logs([u.reserve.address, u.vault], [], head, head)
        txs = list(dict.fromkeys(lg.tx_hash for lg in logs))
        assert len(txs) == 3  # mint (Transfer), approve (Approval), deposit (Transfer, Deposit, ...)
        assert [lg.log_index for lg in logs] == list(range(len(logs)))
        receipts = b.chain.backend.get_receipts(txs)
        assert [lg for r in receipts if r is not None for lg in r.logs] == logs

    def test_receipt_appears_only_when_the_block_is_sealed(self, chain_pool: ChainPool, backend: str) -> None:
        """With automine off a sent transaction is pending, has no receipt, then lands in mine()."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        b.chain.automine = False
        admin = b.world.accounts.admin
        tx_hash = b.chain.send(admin, b.world.accounts.market.address, b"", 21_000, value=1)
        assert b.chain.backend.get_receipt(tx_hash) is None
        assert tx_hash in b.chain.backend.pending_transactions()
        number = b.chain.mine()
        receipt = b.chain.backend.get_receipt(tx_hash)
        assert receipt is not None and receipt.block_number == number and receipt.gas_used == 21_000
        assert b.chain.backend.pending_transactions() == []

    def test_a_repeated_broadcast_reads_as_already_sent(self, chain_pool: ChainPool, backend: str) -> None:
        """The same signed bytes again are refused with a message the retry policy reads as 'sent'."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        admin = b.world.accounts.admin
        tx = b.chain.sign(admin, b.world.accounts.market.address, b"", 21_000, value=1)
        b.chain.broadcast(tx)
        for when in ("pending", "mined"):
            with pytest.raises(TransactionRejected) as info:
                b.chain.backend.send_raw_transaction(tx.raw)
            assert any(s in info.value.message.lower() for s in ALREADY_SENT), (when, info.value.message)
            b.chain.mine()

    def test_timeouts_and_errors_behind_the_proxies(self, chain_pool: ChainPool, backend: str) -> None:
        """Under the fault and retry proxies a timed-out broadcast is not sent twice."""
        b = make_bench(chain_pool, backend)
        b.at(0)
        faults = FaultInjectingBackend(b.chain.backend)
        retrying = RetryingBackend(faults)
        b.chain.backend = retrying
        faults.arm("timeout", 1, "send_raw_transaction")
        receipt = b.chain.transact(b.world.accounts.admin, b.world.accounts.market.address, b"", 21_000, value=1)
        assert receipt.success and faults.injected == ["send_raw_transaction: timeout"]
        faults.arm("error", 2, "call")
        assert b.world.investor_shares("alice") == 0
        assert [r.split(":")[0] for r in retrying.retries] == ["send_raw_transaction", "call", "call"]


class TestDevChain:
    """The node extras the harness uses on anvil and revm (eth-tester has no mempool)."""

    def test_dropped_transaction_takes_the_senders_later_ones_with_it(self, chain_pool: ChainPool,
                                                                       dev_chain: str) -> None:
        """drop_transaction removes a pending transaction and the sender's later nonces; others stay."""
        b = make_bench(chain_pool, dev_chain)
        b.at(0)
        b.chain.automine = False
        admin, market = b.world.accounts.admin, b.world.accounts.market
        sink = b"\x11" * 20
        first = b.chain.send(admin, sink, b"", 21_000, value=1)
        second = b.chain.send(admin, sink, b"", 21_000, value=2)
        other = b.chain.send(market, sink, b"", 21_000, value=3)
        be = b.chain.backend
        assert be.pending_transactions() == [first, second, other]
        assert be.drop_transaction(first) is True
        assert be.drop_transaction(second) is False  # gone with its predecessor
        assert be.get_nonce(admin.address) == admin.nonce - 2
        b.chain.mine()
        assert be.get_receipt(first) is None and be.get_receipt(second) is None
        assert be.get_receipt(other) is not None and be.get_eth_balance(sink) == 3

    def test_impersonated_contract_sends_and_pays_gas(self, chain_pool: ChainPool, dev_chain: str) -> None:
        """send_impersonated moves the vault's own tokens without its key; the vault pays the gas."""
        b = make_bench(chain_pool, dev_chain)
        b.at(0)
        b.world.deposit("alice", Decimal(10))
        u = b.world.universe
        token = artifact("TestToken")
        sink = b"\x22" * 20
        receipt = b.chain.send_as(u.vault, u.reserve.address, token.fn("transfer").encode(sink, 4 * 10**6), 200_000)
        assert receipt.success
        assert b.chain.read(u.reserve.address, token.fn("balanceOf"), sink) == 4 * 10**6
        assert b.chain.read(u.reserve.address, token.fn("balanceOf"), u.vault) == 6 * 10**6
        # topped up to 1 ETH, then charged gas used x 10 gwei
        assert b.chain.backend.get_eth_balance(u.vault) == 10**18 - receipt.gas_used * 10 * 10**9

    def test_set_eth_balance_is_seen_by_reads_and_by_the_evm(self, chain_pool: ChainPool, dev_chain: str) -> None:
        """A balance set from outside is what eth_getBalance and the BALANCE opcode return."""
        b = make_bench(chain_pool, dev_chain)
        b.at(0)
        who = b"\x33" * 20
        b.chain.backend.set_eth_balance(who, 123_456)  # type: ignore[attr-defined]
        assert b.chain.backend.get_eth_balance(who) == 123_456
        multicall = artifact("Multicall")
        assert b.chain.read(b.world.universe.multicall, multicall.fn("getEthBalance"), who) == 123_456

    def test_a_restarted_node_keeps_its_chain(self, chain_pool: ChainPool, dev_chain: str) -> None:
        """dump_state then load_state on a new node: same head, hashes, balances, receipts; it mines on."""
        b = make_bench(chain_pool, dev_chain)
        b.at(0)
        b.world.deposit("alice", Decimal(2))
        be = b.chain.backend
        head = be.block_number()
        tx = be.get_logs(b.world.universe.vault, [], head, head)[0].tx_hash
        before = (head, be.block_hash(head), be.block_timestamp(), be.get_receipt(tx), b.world.investor_shares("alice"),
                  be.get_nonce(b.world.accounts.admin.address))
        chain_pool.restart_node(dev_chain)
        after = (be.block_number(), be.block_hash(head), be.block_timestamp(), be.get_receipt(tx),
                 b.world.investor_shares("alice"), be.get_nonce(b.world.accounts.admin.address))
        assert after == before
        b.at(1)
        b.world.deposit("alice", Decimal(1))
        assert be.block_number() == head + 1 and b.world.investor_shares("alice") == 3 * 10**6


@pytest.mark.anvil
class TestParity:
    def test_world_is_identical_on_every_backend(self, chain_pool: ChainPool) -> None:
        """Same addresses, block height and chain id after deployment on every backend."""
        worlds = {name: make_bench(chain_pool, name) for name in ("eth-tester", "anvil", "revm")}
        def fingerprint(b: object) -> tuple[object, ...]:
            u = b.world.universe  # type: ignore[attr-defined]
            chain = b.chain  # type: ignore[attr-defined]
            return (u.vault, u.router, tuple(t.address for t in u.tokens.values()),
                    tuple(p.address for p in u.pools.values()), chain.block_number(), chain.chain_id)
        assert fingerprint(worlds["eth-tester"]) == fingerprint(worlds["anvil"]) == fingerprint(worlds["revm"])
