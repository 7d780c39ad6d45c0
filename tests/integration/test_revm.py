"""What the revm backend adds around pyrevm, tested where the conformance suite cannot reach.

The node-only scenarios (mempool, restart, fork) run here on revm against the committed
snapshots the anvil runs produced; pyrevm's journal is shown empty between transactions
(so every transaction starts cold, as on a node); the decoder, the history window,
snapshots, dump/load and the fork mode are checked against what a node does.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import rlp
from eth_hash.auto import keccak

from harness.accounts import Accounts
from harness.anvil_node import AnvilNode
from harness.chains import GENESIS, ChainPool
from harness.engine import ScenarioRun
from harness.scenario import load_scenario
from harness.snapshot import render, snapshot_document
from harness.world import World, deploy_world
from runner.chain.abi import artifact
from runner.chain.anvil import AnvilBackend
from runner.chain.client import GAS_PRICE, ChainClient
from runner.chain.errors import ChainError, NodeError, TransactionRejected
from runner.chain.revm import DEFAULT_CHAIN_ID, RevmBackend, decode_legacy_transaction
from runner.chain.wallet import Wallet
from tests.integration.worlds import POOLS, TOKENS, make_bench

ROOT = Path(__file__).resolve().parents[2]
NODE_ONLY = ["scenarios/node/dropped-broadcast-repaired.yaml", "scenarios/node/stuck-broadcast-then-resume.yaml",
             "scenarios/node/node-restart-keeps-chain.yaml"]


@pytest.mark.parametrize("path", NODE_ONLY)
def test_node_only_scenarios_give_anvils_snapshot_on_revm(path: str, chain_pool: ChainPool) -> None:
    """Stalls, drops, resumes and restarts of anvil's scenarios: the same bytes on revm."""
    scenario = load_scenario(ROOT / path)
    result = ScenarioRun(scenario, backend="revm", pool=chain_pool).run()
    assert render(snapshot_document(result)) == (ROOT / "snapshots" / f"{scenario.name}.json").read_bytes()


@pytest.mark.anvil
def test_fork_scenario_gives_anvils_snapshot_on_an_in_process_fork() -> None:
    """fork-finds-positions forked by pyrevm (no second anvil): the anvil-fork snapshot, byte for byte."""
    scenario = load_scenario(ROOT / "scenarios/fork/fork-finds-positions.yaml")
    result = ScenarioRun(scenario, backend="revm").run()
    assert render(snapshot_document(result)) == (ROOT / "snapshots" / "fork-finds-positions.json").read_bytes()


def test_every_transaction_starts_on_an_empty_journal(chain_pool: ChainPool) -> None:
    """After each transaction only the coinbase is left in revm's journal: nothing stays warm."""
    b = make_bench(chain_pool, "revm")
    b.at(0)
    b.world.deposit("alice", Decimal(10))
    b.world.price_shock(b.world.universe.pools["WETH/USDC"], Decimal("0.1"), None)
    be = b.chain.backend
    assert isinstance(be, RevmBackend)
    loaded = {k.lower() for k in be._evm.journal_state}
    assert loaded <= {"0x" + "00" * 20}
    assert be._evm.journal_depth == 0


def test_an_impersonated_contract_called_back_is_refused_not_run_wrong(chain_pool: ChainPool) -> None:
    """pyrevm cannot disable EIP-3607, so an impersonated contract runs with its code hidden;
    a transaction that reaches that code is left out of its block, loudly, and changes nothing."""
    b = make_bench(chain_pool, "revm")
    b.at(0)
    b.world.deposit("alice", Decimal(10))
    u = b.world.universe
    be = b.chain.backend
    assert isinstance(be, RevmBackend)
    before = (be.get_nonce(u.vault), b.world.investor_shares("alice"))
    total = artifact("Vault").fn("totalAssets").encode()
    with pytest.raises(ChainError, match="called back"):
        b.chain.send_as(u.vault, u.vault, total, 100_000)  # the vault calling itself
    head = be.block_number()
    assert be.block_transactions(head) == [] and be.pending_transactions() == []
    assert (be.get_nonce(u.vault), b.world.investor_shares("alice")) == before
    assert be.call(u.vault, total) == (10 * 10**6).to_bytes(32, "big")  # its code is back


def test_calls_older_than_the_history_window_are_refused() -> None:
    """A pruned node refuses state it no longer keeps; inside the window it answers."""
    admin = Wallet.from_label("admin")
    be = RevmBackend(GENESIS, [admin.address], 10**24, history_blocks=3)
    chain = ChainClient(be, clock=GENESIS + 1)
    multicall = artifact("Multicall")
    deployed = keccak(rlp.encode([admin.address, 0]))[-20:]
    chain.transact(admin, None, multicall.deploy_data(), 1_000_000)
    sink = b"\x44" * 20
    for i in range(6):  # block k after the deployment sends k wei
        chain.transact(admin, sink, b"", 21_000, value=i + 1)
    head = be.block_number()
    balance = multicall.fn("getEthBalance")
    at = [balance.decode_one(be.call(deployed, balance.encode(sink), head - back)) for back in range(4)]
    assert at == [21, 15, 10, 6]  # 1+..+6, 1+..+5, 1+..+4, 1+2+3
    with pytest.raises(NodeError, match="not available"):
        be.call(deployed, balance.encode(sink), head - 4)
    assert balance.decode_one(be.call(deployed, balance.encode(sink))) == 21  # the head is intact


def test_dump_and_load_give_the_same_chain_on_a_new_backend(chain_pool: ChainPool) -> None:
    """A dump loaded into another backend answers every read as the original does."""
    b = make_bench(chain_pool, "revm")
    b.at(0)
    b.world.deposit("alice", Decimal(10))
    b.tick(0)
    be = b.chain.backend
    assert isinstance(be, RevmBackend)
    other = RevmBackend()
    other.load_state(be.dump_state())
    u = b.world.universe
    head = be.block_number()
    logs = be.get_logs([u.vault, *(t.address for t in u.tokens.values())], [], 0, head)
    assert other.get_logs([u.vault, *(t.address for t in u.tokens.values())], [], 0, head) == logs
    assert [other.block_hash(n) for n in range(head + 1)] == [be.block_hash(n) for n in range(head + 1)]
    assert other.get_receipts([lg.tx_hash for lg in logs]) == be.get_receipts([lg.tx_hash for lg in logs])
    bal = artifact("TestToken").fn("balanceOf")
    for token in u.tokens.values():
        assert other.call(token.address, bal.encode(u.vault)) == be.call(token.address, bal.encode(u.vault))
    assert other.next_base_fee() == be.next_base_fee()
    with pytest.raises(NodeError, match="not available"):  # earlier states are not in a dump
        other.call(u.reserve.address, bal.encode(u.vault), head - 1)
    with pytest.raises(ChainError, match="not a revm state dump"):
        other.load_state('{"format": "something else"}')


def test_snapshots_are_used_up_with_every_later_one(chain_pool: ChainPool) -> None:
    """As on anvil: reverting to a snapshot consumes it and the snapshots taken after it."""
    b = make_bench(chain_pool, "revm")
    be = b.chain.backend
    first = be.snapshot()
    b.at(0)
    b.world.deposit("alice", Decimal(1))
    second = be.snapshot()
    be.revert(first)
    with pytest.raises(NodeError, match="unknown or already used"):
        be.revert(second)
    with pytest.raises(NodeError, match="unknown or already used"):
        be.revert(first)


class TestDecoding:
    """Signed bytes in, sender out: what eth_sendRawTransaction has to check."""

    def test_sender_and_fields_come_from_the_signature(self) -> None:
        w = Wallet.from_label("someone")
        raw, tx_hash, _ = w.sign(to=b"\x55" * 20, data=b"\x01\x02", gas=50_000, gas_price=GAS_PRICE,
                                 chain_id=DEFAULT_CHAIN_ID, value=7)
        tx = decode_legacy_transaction(raw)
        assert (tx.sender, tx.tx_hash, tx.chain_id, tx.to, tx.value, tx.data, tx.gas) == (
            w.address, tx_hash, DEFAULT_CHAIN_ID, b"\x55" * 20, 7, b"\x01\x02", 50_000)

    def test_an_unprotected_transaction_is_read_too(self) -> None:
        """Pre-EIP-155 (v = 27/28): no chain id, the sender is recovered all the same."""
        from coincurve import PrivateKey

        key = Wallet.from_label("legacy").private_key
        fields = [0, GAS_PRICE, 21_000, b"\x66" * 20, 1, b""]
        sig = PrivateKey(key).sign_recoverable(keccak(rlp.encode(fields)), hasher=None)
        raw = rlp.encode([*fields, 27 + sig[64], int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")])
        tx = decode_legacy_transaction(raw)
        assert tx.chain_id is None and tx.sender == Wallet.from_label("legacy").address

    def test_what_a_node_refuses(self) -> None:
        w = Wallet.from_label("someone")
        be = RevmBackend(GENESIS, [w.address], 10**24)
        other_chain, _h, _n = w.sign(to=b"\x55" * 20, data=b"", gas=21_000, gas_price=GAS_PRICE, chain_id=1)
        with pytest.raises(TransactionRejected, match="invalid chain id"):
            be.send_raw_transaction(other_chain)
        raw, _h, _n = w.sign(to=b"\x55" * 20, data=b"", gas=21_000, gas_price=GAS_PRICE, chain_id=DEFAULT_CHAIN_ID)
        items = rlp.decode(raw)
        n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
        high_s = rlp.encode([*items[:8], n - int.from_bytes(items[8], "big")])  # the malleable twin
        with pytest.raises(TransactionRejected, match="invalid signature"):
            be.send_raw_transaction(high_s)
        with pytest.raises(TransactionRejected, match="type not supported"):
            be.send_raw_transaction(b"\x02" + raw)
        with pytest.raises(TransactionRejected, match="Failed to decode"):
            be.send_raw_transaction(raw[:-3])
        be.send_raw_transaction(raw)  # the untampered original is fine
        assert be.pending_transactions() == [keccak(raw)]


@pytest.fixture
def mainnet() -> Iterator[tuple[AnvilBackend, World, Accounts, int]]:
    """A local anvil playing "mainnet" with the world deployed and two deposits, one after the fork block."""
    node = AnvilNode(genesis_timestamp=GENESIS)
    anvil = AnvilBackend(node.url)
    accounts = Accounts.for_investors(("alice",))
    anvil.set_eth_balance(accounts.admin.address, 10**26)
    chain = ChainClient(anvil, clock=GENESIS + 3600)
    world = deploy_world(chain, accounts, "USDC", list(TOKENS), list(POOLS))
    world.deposit("alice", Decimal(100))
    fork_block = anvil.block_number()
    world.deposit("alice", Decimal(50))
    try:
        yield anvil, world, accounts, fork_block
    finally:
        anvil.close()
        node.stop()


@pytest.mark.anvil
class TestFork:
    def test_the_fork_reads_the_node_at_its_block_and_writes_only_locally(
            self, mainnet: tuple[AnvilBackend, World, Accounts, int]) -> None:
        anvil, world, accounts, fork_block = mainnet
        u = world.universe
        bal = artifact("TestToken").fn("balanceOf")
        fork = RevmBackend(fork_url=anvil.rpc.url, fork_block=fork_block)
        assert fork.block_number() == fork_block and fork.chain_id == anvil.chain_id
        assert fork.block_hash(fork_block) == anvil.block_hash(fork_block)
        assert fork.block_timestamp() == anvil.block_timestamp(fork_block)
        assert bal.decode_one(fork.call(u.reserve.address, bal.encode(u.vault))) == 100 * 10**6
        assert fork.get_nonce(accounts.investor("alice").address) == 2  # approve + deposit before the fork
        # the history before the fork is the node's: the sync finds the first deposit's events
        deposit = artifact("Vault").event("Deposit").topic
        assert [lg.block_number for lg in fork.get_logs(u.vault, [deposit], 1, fork_block)] == [fork_block]
        tx = fork.get_logs(u.vault, [deposit], 1, fork_block)[0].tx_hash
        receipt = fork.get_receipt(tx)
        assert receipt is not None and receipt.success and receipt.block_number == fork_block
        chain = ChainClient(fork, clock=anvil.block_timestamp() + 60)
        for w in accounts.all():
            chain.sync_nonce(w)
        snap = fork.snapshot()
        on_fork = World(chain, accounts, u, world.fault_switch)
        on_fork.deposit("alice", Decimal(7))
        assert fork.block_number() == fork_block + 1
        assert bal.decode_one(fork.call(u.reserve.address, bal.encode(u.vault))) == 107 * 10**6
        assert bal.decode_one(anvil.call(u.reserve.address, bal.encode(u.vault))) == 150 * 10**6
        restarted = RevmBackend()
        restarted.load_state(fork.dump_state())  # a fork restarts by forking again, changes on top
        assert bal.decode_one(restarted.call(u.reserve.address, bal.encode(u.vault))) == 107 * 10**6
        fork.revert(snap)  # back to the forked values, which are not in the local mirror
        assert bal.decode_one(fork.call(u.reserve.address, bal.encode(u.vault))) == 100 * 10**6
        assert fork.get_nonce(accounts.investor("alice").address) == 2
        restarted.close()
        fork.close()
