"""Every wire fault through the real proxy against a real anvil, on the runner's backends.

The runner's stack is the real one: `RetryingBackend` -> `AnvilBackend` (or `RpcBackend`)
-> `JsonRpcClient` -> [WireProxy] -> anvil. Each test checks what the runner sees (the
exception class, or the answer after retries), where the request got to (the node's own
state), and that a broadcast never becomes two transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.anvil_node import AnvilNode
from harness.chains import GENESIS
from harness.wire import DuplicateAnswer, WireFault, WireProxy
from runner.chain.anvil import AnvilBackend
from runner.chain.backend import Call
from runner.chain.errors import NodeError, NodeTimeout
from runner.chain.methods import NodeMethod
from runner.chain.node import RpcBackend
from runner.chain.retry import RetryingBackend
from runner.chain.rpc import HttpStatusError
from runner.chain.wallet import Wallet

pytestmark = pytest.mark.anvil

TIMEOUT = 0.4  # float-ok: seconds; the client's timeout, small so timeout faults stay fast
GAS_PRICE = 10 * 10**9


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    """One anvil for this module (automine off, the project's chain settings)."""
    with AnvilNode(genesis_timestamp=GENESIS) as n:
        yield n


@pytest.fixture(scope="module")
def proxy(node: AnvilNode) -> Iterator[WireProxy]:
    """The wire proxy in front of the module's anvil; holds a timed-out answer at most 10 s."""
    with WireProxy(node.url, hold=10.0, slow=TIMEOUT / 4) as p:
        yield p


@dataclass
class Rig:
    proxy: WireProxy
    anvil: AnvilBackend  # through the proxy
    direct: AnvilBackend  # the same node without the proxy: the truth
    retrying: RetryingBackend
    wallet: Wallet
    clock: int

    def sign(self, value: int = 1) -> tuple[bytes, bytes]:
        raw, tx_hash, _n = self.wallet.sign(to=self.wallet.address, data=b"", gas=21_000, gas_price=GAS_PRICE,
                                            chain_id=self.anvil.chain_id, value=value)
        return raw, tx_hash

    def mine(self) -> int:
        self.clock += 12
        return self.direct.mine(self.clock)

    def block_txs(self, number: int) -> list[str]:
        return list(self.direct.rpc.request("eth_getBlockByNumber", [hex(number), False])["transactions"])


@pytest.fixture
def rig(node: AnvilNode, proxy: WireProxy) -> Iterator[Rig]:
    """A funded wallet and the runner's backends through the proxy; the chain is reverted after."""
    direct = AnvilBackend(node.url)
    snap = direct.snapshot()
    anvil = AnvilBackend(proxy.url, timeout=TIMEOUT)
    wallet = Wallet.from_label("wire-test")
    direct.set_eth_balance(wallet.address, 10**21)
    wallet.nonce = direct.get_nonce(wallet.address)
    clock = direct.block_timestamp()
    try:
        yield Rig(proxy, anvil, direct, RetryingBackend(anvil), wallet, clock)
    finally:
        proxy.disarm()
        proxy.unschedule()
        proxy.unlag()
        anvil.close()
        direct.revert(snap)
        direct.close()


def assert_sent_once(rig: Rig, tx_hash: bytes) -> None:
    """Mined in exactly one transaction: the node kept one copy of the signed bytes."""
    nonce_before = rig.direct.rpc.request("eth_getTransactionCount", ["0x" + rig.wallet.address.hex(), "latest"])
    block = rig.mine()
    assert rig.block_txs(block) == ["0x" + tx_hash.hex()]
    after = rig.direct.rpc.request("eth_getTransactionCount", ["0x" + rig.wallet.address.hex(), "latest"])
    assert int(after, 16) == int(nonce_before, 16) + 1
    receipt = rig.direct.get_receipt(tx_hash)
    assert receipt is not None and receipt.success


class TestReads:
    @pytest.mark.parametrize("fault,error", [
        (WireFault.reset, NodeError), (WireFault.reset_after, NodeError), (WireFault.timeout, NodeTimeout),
        (WireFault.http_5xx, HttpStatusError), (WireFault.http_429, HttpStatusError),
        (WireFault.truncated, NodeError),
    ])
    def test_a_failed_read_is_a_node_error_and_retried(self, rig: Rig, fault: WireFault,
                                                        error: type[NodeError]) -> None:
        """The raw backend raises the specific NodeError; the retry proxy asks again and gets the answer."""
        truth = rig.direct.get_eth_balance(rig.wallet.address)
        rig.proxy.arm(fault, calls=1, method=NodeMethod.get_eth_balance)
        with pytest.raises(error) as info:
            rig.anvil.get_eth_balance(rig.wallet.address)
        assert type(info.value) is error
        if isinstance(info.value, HttpStatusError):
            assert info.value.status == (429 if fault == WireFault.http_429 else 503)
        rig.proxy.arm(fault, calls=2, method=NodeMethod.get_eth_balance)
        assert rig.retrying.get_eth_balance(rig.wallet.address) == truth
        assert len(rig.retrying.retries) == 2 and rig.proxy.disarm() == 0
        # the record says what the node did (an error, or no answer), not the transport's class
        recorded = NodeTimeout if issubclass(error, NodeTimeout) else NodeError
        assert all(r.startswith(f"get_eth_balance: {recorded.__name__}") for r in rig.retrying.retries)

    def test_batches_fail_and_recover_whole(self, rig: Rig) -> None:
        """A truncated batch answer (call_many) is one NodeError; retried, every member is right."""
        code = rig.direct.get_code(rig.wallet.address)
        assert code == b""
        rig.proxy.arm(WireFault.truncated, calls=1, method="eth_getTransactionReceipt")
        missing = [bytes(32), b"\x01" * 32]
        with pytest.raises(NodeError, match="truncated"):
            rig.anvil.get_receipts(missing)
        assert rig.retrying.get_receipts(missing) == [None, None]

    def test_slow_is_late_but_whole(self, rig: Rig) -> None:
        """A slow answer within the timeout is just an answer: no error, no retry."""
        rig.proxy.arm(WireFault.slow, calls=1)
        assert rig.retrying.get_nonce(rig.wallet.address) == rig.wallet.nonce
        assert rig.retrying.retries == [] and rig.proxy.stats().by_kind["slow"] >= 1

    def test_a_node_that_never_answers_gives_up_with_the_last_timeout(self, rig: Rig) -> None:
        """Every attempt times out: NodeTimeout after `attempts` tries, no hang, no traceback."""
        rig.proxy.arm(WireFault.timeout, calls=10, method=NodeMethod.block_timestamp)
        with pytest.raises(NodeTimeout):
            rig.retrying.block_timestamp()
        assert rig.proxy.disarm() == 10 - rig.retrying.attempts


class TestSends:
    @pytest.mark.parametrize("fault", [WireFault.reset, WireFault.http_5xx, WireFault.http_429])
    def test_not_forwarded_then_resent_once(self, rig: Rig, fault: WireFault) -> None:
        """The node never saw the first attempt: the retry delivers it, one transaction."""
        raw, tx_hash = rig.sign()
        rig.proxy.arm(fault, calls=1, method=NodeMethod.send_raw_transaction)
        assert rig.retrying.send_raw_transaction(raw) == tx_hash
        assert len(rig.retrying.retries) == 1
        assert_sent_once(rig, tx_hash)

    @pytest.mark.parametrize("fault", [WireFault.reset_after, WireFault.timeout, WireFault.truncated])
    def test_answer_lost_after_the_node_took_it(self, rig: Rig, fault: WireFault) -> None:
        """The node has it, the answer is lost: the resend's "already imported" means sent, one transaction."""
        raw, tx_hash = rig.sign()
        rig.proxy.arm(fault, calls=1, method=NodeMethod.send_raw_transaction)
        assert rig.retrying.send_raw_transaction(raw) == tx_hash
        assert rig.retrying.retries[0].startswith("send_raw_transaction: Node")
        assert_sent_once(rig, tx_hash)

    @pytest.mark.parametrize("answer", list(DuplicateAnswer))
    def test_duplicated_delivery_is_one_transaction(self, rig: Rig, answer: DuplicateAnswer) -> None:
        """Delivered twice, either answer returned: the same hash, and the node keeps one copy."""
        raw, tx_hash = rig.sign()
        rig.proxy.arm(WireFault.duplicate_send, calls=1, answer=answer)
        assert rig.retrying.send_raw_transaction(raw) == tx_hash
        assert rig.retrying.retries == []  # "already imported" on the first attempt is not an error
        assert_sent_once(rig, tx_hash)

    def test_a_real_rejection_is_still_a_rejection(self, rig: Rig) -> None:
        """A transaction with a used nonce, on its first attempt, is refused, not taken for sent."""
        from runner.chain.errors import TransactionRejected

        raw, tx_hash = rig.sign()
        rig.retrying.send_raw_transaction(raw)
        rig.mine()
        stale, _h, _n = rig.wallet.sign(to=rig.wallet.address, data=b"", gas=21_000, gas_price=GAS_PRICE,
                                        chain_id=rig.anvil.chain_id, value=2, nonce=rig.wallet.nonce - 1)
        with pytest.raises(TransactionRejected, match="nonce too low"):
            rig.retrying.send_raw_transaction(stale)


class TestLaggingReplica:
    def test_answers_are_n_blocks_stale(self, rig: Rig, proxy: WireProxy) -> None:
        """Head, nonce, balance, call, receipt and latest block all come from head - N."""
        sent = []
        for value in (1, 2, 3):
            raw, tx_hash = rig.sign(value)
            rig.retrying.send_raw_transaction(raw)
            sent.append((rig.mine(), tx_hash))
        head = rig.direct.block_number()
        addr = rig.wallet.address
        rpc = RpcBackend(proxy.url, timeout=TIMEOUT)  # asks eth_blockNumber every time
        try:
            proxy.lag(2)
            assert rpc.block_number() == head - 2
            assert rpc.get_nonce(addr) == rig.wallet.nonce - 2  # "pending" too: the replica's own view
            assert rig.anvil.get_nonce(addr) == rig.wallet.nonce - 2
            real = rig.direct.rpc.request("eth_getBalance", ["0x" + addr.hex(), hex(head - 2)])
            assert rig.anvil.get_eth_balance(addr) == int(real, 16) != rig.direct.get_eth_balance(addr)
            assert rpc.block_timestamp() == rig.direct.block_timestamp(head - 2)
            assert [rig.anvil.get_receipt(h) is None for _b, h in sent] == [False, True, True]
            with pytest.raises(NodeError, match="header not found"):  # a block it does not have
                rig.anvil.rpc.request("eth_getBalance", ["0x" + addr.hex(), hex(head)])
            # a batch of calls at a block the replica lacks is the node failing (retryable),
            # not the contract reverting (it was a CallReverted, never retried, before)
            with pytest.raises(NodeError, match="header not found"):
                rig.anvil.call_many([Call(addr, b""), Call(addr, b"")], block=head)
            proxy.unlag()
            assert rpc.block_number() == head and rig.anvil.get_receipt(sent[-1][1]) is not None
        finally:
            rpc.close()

    def test_a_lost_send_answer_while_receipts_lag_is_one_transaction(self, rig: Rig, proxy: WireProxy) -> None:
        """The answer to a broadcast is lost and the replica lags: the resend is "already
        imported" (sent), the receipt is missing until the replica catches up, never a second tx."""
        raw, tx_hash = rig.sign()
        proxy.lag(1, NodeMethod.get_receipt)
        proxy.arm(WireFault.reset_after, calls=1, method=NodeMethod.send_raw_transaction)
        assert rig.retrying.send_raw_transaction(raw) == tx_hash
        block = rig.mine()
        assert rig.retrying.get_receipt(tx_hash) is None  # mined, but not on the replica yet
        rig.mine()
        receipt = rig.retrying.get_receipt(tx_hash)
        assert receipt is not None and receipt.block_number == block
        assert rig.block_txs(block) == ["0x" + tx_hash.hex()]


class TestSchedule:
    def _workload(self, rig: Rig, node: AnvilNode, seed: int) -> tuple[list[str], list[int]]:
        with WireProxy(node.url, hold=10.0, slow=TIMEOUT / 4) as p:
            backend = RetryingBackend(AnvilBackend(p.url, timeout=TIMEOUT), attempts=8)
            p.schedule(seed, {WireFault.reset: 0.1, WireFault.reset_after: 0.1, WireFault.http_5xx: 0.1,
                              WireFault.truncated: 0.1, WireFault.duplicate_send: 0.2})
            answers = [backend.get_nonce(rig.wallet.address) for _ in range(10)]
            for _ in range(3):
                raw, _h = rig.sign()
                backend.send_raw_transaction(raw)
            p.unschedule()
            backend.close()
            return list(p.log), answers

    def test_same_seed_same_faults_and_every_answer_right(self, rig: Rig, node: AnvilNode) -> None:
        """A seeded storm: no traceback, every answer right after retries, the same log for the same seed."""
        snap = rig.direct.snapshot()
        nonce = rig.wallet.nonce
        log1, answers1 = self._workload(rig, node, 3)
        rig.direct.revert(snap)
        rig.wallet.nonce = nonce
        log2, answers2 = self._workload(rig, node, 3)
        assert log1 == log2 and len(log1) >= 3
        assert answers1 == answers2 == [nonce] * 10
        block = rig.mine()
        assert len(rig.block_txs(block)) == 3  # three broadcasts, three transactions
