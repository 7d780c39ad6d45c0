"""revm against anvil, transaction by transaction: the same EVM must give the same answers.

Fresh chains on both sides (anvil's next base fee survives evm_revert, so a reused node
would not start from the configured one), the same signed transactions, then block by
block: transaction order, status, gas used, logs with their indexes, revert reasons,
raw revert data, base fee, timestamps. anvil is the reference: nothing here is an
expected value taken from revm's own output.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from harness.accounts import Accounts
from harness.anvil_node import AnvilNode
from harness.chains import ETH_PER_ACCOUNT, GENESIS
from harness.world import _create_address, deploy_world
from runner.chain.abi import artifact
from runner.chain.anvil import AnvilBackend
from runner.chain.backend import Receipt
from runner.chain.client import GAS_PRICE, ChainClient
from runner.chain.errors import CallReverted, TransactionRejected
from runner.chain.node import _revert_data
from runner.chain.revm import BASE_FEE, RevmBackend
from runner.chain.rpc import RpcFault
from runner.chain.wallet import Wallet
from tests.integration.worlds import POOLS, TOKENS

pytestmark = pytest.mark.anvil

# JUMPDEST PUSH1 0 JUMP: loops until its gas is gone, so a block can use more than the target
BURNER_INIT = bytes.fromhex("635b600056" "600052" "6004601cf3")
DAY = 86_400
T0 = GENESIS + 3600


@dataclass
class Side:
    name: str
    backend: Any
    chain: ChainClient

    def block(self, number: int) -> dict[str, Any]:
        """(transaction hashes, base fee) of a block, read the way each backend offers them."""
        if isinstance(self.backend, RevmBackend):
            return {"txs": self.backend.block_transactions(number), "base_fee": self.backend.base_fee(number)}
        blk = self.backend.rpc.request("eth_getBlockByNumber", [hex(number), False])
        return {"txs": [bytes.fromhex(h[2:]) for h in blk["transactions"]],
                "base_fee": int(blk["baseFeePerGas"], 16)}

    def replay(self, tx_hash: bytes, block: int) -> tuple[str, bytes]:
        """A mined transaction again as an eth_call with its own gas on `block`: (outcome, data)."""
        if isinstance(self.backend, RevmBackend):
            tx = self.backend.transaction(tx_hash)
            assert tx is not None and tx.to is not None
            try:
                return "ok", self.backend.call(tx.to, tx.data, block, tx.sender, gas=tx.gas)
            except CallReverted as exc:  # a halt (no revert) reads "EVM error <reason>", as on anvil
                return ("halted" if (exc.reason or "").startswith("EVM error") else "reverted"), exc.data
        t = self.backend.rpc.request("eth_getTransactionByHash", ["0x" + tx_hash.hex()])
        call = {"from": t["from"], "to": t["to"], "data": t["input"], "gas": t["gas"]}
        try:
            return "ok", bytes.fromhex(self.backend.rpc.request("eth_call", [call, hex(block)])[2:])
        except RpcFault as fault:
            data = _revert_data(fault)
            return ("halted" if fault.message.startswith("EVM error") else "reverted"), data


@pytest.fixture
def sides() -> Iterator[tuple[Side, Side]]:
    """A fresh anvil (as the harness starts it) and a fresh revm, the admin funded on both."""
    admin = Wallet.from_label("admin")
    node = AnvilNode(genesis_timestamp=GENESIS)
    anvil = AnvilBackend(node.url)
    anvil.set_eth_balance(admin.address, ETH_PER_ACCOUNT * 100)
    revm = RevmBackend(GENESIS, [admin.address], ETH_PER_ACCOUNT * 100)
    try:
        yield (Side("anvil", anvil, ChainClient(anvil, clock=T0)), Side("revm", revm, ChainClient(revm, clock=T0)))
    finally:
        anvil.close()
        node.stop()
        revm.close()


def _script(side: Side) -> None:
    """Deploy the world, then every kind of transaction the harness and the runner send."""
    chain = side.chain
    accounts = Accounts.for_investors(("alice", "bob"))
    admin, am = accounts.admin, accounts.asset_manager
    alice, bob = accounts.investor("alice"), accounts.investor("bob")
    world = deploy_world(chain, accounts, "USDC", list(TOKENS), list(POOLS))
    u = world.universe
    usdc, weth = u.reserve, u.tokens["WETH"]

    def at(days: float) -> None:
        chain.set_clock(T0 + int(days * DAY))

    at(0)
    world.deposit("alice", Decimal(1000))  # three transactions in one block
    world.mint(usdc, alice.address, 50 * 10**6)
    with world.block():  # the same transfer twice in one block: each starts cold (EIP-2929)
        world._tx(alice, usdc.address, "TestToken", "transfer", bob.address, 10**6)
        world._tx(alice, usdc.address, "TestToken", "transfer", bob.address, 10**6)
    world._tx(alice, usdc.address, "TestToken", "transfer", bob.address, 48 * 10**6)  # to zero: a refund
    swap_fn = artifact("Vault").fn("swap")

    def swap(amount: int) -> Receipt:
        data = swap_fn.encode(amount, 0, [usdc.address, weth.address], T0 + 400 * DAY)
        return chain.transact(am, u.vault, data, 400_000)

    at(1)
    assert swap(100 * 10**6).success
    assert swap(50 * 10**6).success  # the allowance is reset to zero first (an SSTORE refund)
    world.arm_fault("WETH/USDC", "revert", "NOPE")
    assert swap(10 * 10**6).revert_reason == "NOPE"
    world.disarm_faults()
    world.arm_fault("WETH/USDC", "out_of_gas", "")
    oog = swap(10 * 10**6)
    assert oog.out_of_gas and oog.gas_used == 400_000
    world.disarm_faults()
    world.arm_fault("WETH/USDC", "transfer_failure", "")
    assert not swap(10 * 10**6).success
    world.disarm_faults()
    at(2)
    world.price_shock(u.pools["WETH/USDC"], Decimal("-0.2"), None)
    world.rebase(u.tokens["stETH"], Decimal("0.01"))
    world.external_transfer(usdc, Decimal(-3))  # impersonated: the vault sends its own tokens
    redeem = artifact("Vault").fn("redeem").encode(10**30, alice.address, alice.address)
    assert not chain.transact(alice, u.vault, redeem, 300_000).success
    at(3)
    chain.mine()  # an empty block
    burner = _create_address(admin.address, admin.nonce)
    assert chain.transact(admin, None, BURNER_INIT, 200_000).success
    at(4)
    for _ in range(2):  # blocks above the 15M target push the base fee up, empty ones down
        assert chain.transact(admin, burner, b"", 20_000_000).out_of_gas
        chain.mine()


def _record(side: Side) -> dict[str, Any]:
    _script(side)
    be = side.backend
    blocks = []
    failed: list[tuple[bytes, int]] = []
    for n in range(1, be.block_number() + 1):
        blk = side.block(n)
        receipts = be.get_receipts(blk["txs"]) if blk["txs"] else []
        blocks.append((n, be.block_timestamp(n), blk["base_fee"], tuple(blk["txs"]),
                       tuple(_view(r) for r in receipts)))
        failed += [(r.tx_hash, n) for r in receipts if r is not None and not r.success]
    # each failed transaction replayed as an eth_call on its parent block (a historical read)
    revert_data = [(n, *side.replay(tx_hash, n - 1)) for tx_hash, n in failed]
    accounts = Accounts.for_investors(("alice", "bob"))
    balances = [be.get_eth_balance(w.address) for w in accounts.all()] + [be.get_eth_balance(b"\x00" * 20)]
    return {"blocks": blocks, "revert_data": revert_data, "eth_balances": balances}


def _view(r: Receipt | None) -> tuple[Any, ...] | None:
    if r is None:
        return None
    return (r.status, r.gas_used, r.gas_limit, r.revert_reason, r.block_number,
            tuple((lg.address, lg.topics, lg.data, lg.log_index, lg.tx_hash) for lg in r.logs))


def test_same_transactions_same_receipts_gas_revert_data_and_base_fees(sides: tuple[Side, Side]) -> None:
    """Block by block, anvil and revm agree on every transaction's outcome and on every base fee."""
    anvil, revm = (_record(side) for side in sides)
    assert len(anvil["blocks"]) > 40
    for a, r in zip(anvil["blocks"], revm["blocks"], strict=True):
        assert a == r, f"block {a[0]} differs:\nanvil {a}\nrevm  {r}"
    # a revert with a reason, an out-of-gas without data, the failed transfer and the redeem
    assert anvil["revert_data"] == revm["revert_data"]
    outcomes = [outcome for _n, outcome, _data in anvil["revert_data"]]
    assert outcomes.count("halted") == 3 and "reverted" in outcomes  # 1 swap + 2 burners out of gas
    assert any(data[:4] == bytes.fromhex("08c379a0") for _n, _o, data in anvil["revert_data"])
    assert anvil["eth_balances"] == revm["eth_balances"]  # gas paid, miner tips (coinbase 0x0)
    fees = [blk[2] for blk in anvil["blocks"]]
    steps = [b - a for a, b in zip(fees, fees[1:], strict=False)]
    assert fees[:2] == [BASE_FEE, BASE_FEE - BASE_FEE * (15_000_000 - 21_000) // 15_000_000 // 8]
    assert min(steps) < 0 < max(steps)  # it fell under the target and rose above it


def test_a_call_sees_its_blocks_number_and_timestamp(sides: tuple[Side, Side]) -> None:
    """eth_call at the head and at earlier blocks reads that block's NUMBER and TIMESTAMP."""
    admin = Wallet.from_label("admin")
    seen = []
    for side in sides:
        admin.nonce = 0
        multicall = artifact("Multicall")
        address = _create_address(admin.address, 0)
        assert side.chain.transact(admin, None, multicall.deploy_data(), 1_000_000).success
        for i in range(3):
            side.chain.set_clock(T0 + 100 * (i + 1))
            side.chain.mine()
        reads = []
        for block in (None, 4, 2, 1):
            reads.append((side.chain.read(address, multicall.fn("getBlockNumber"), block=block),
                          side.chain.read(address, multicall.fn("getCurrentBlockTimestamp"), block=block)))
        seen.append(reads)
    assert seen[0] == seen[1]
    assert seen[0][0] == (4, T0 + 300)


def _refusals(side: Side) -> list[str]:
    be = side.backend
    cid = be.chain_id
    admin, poor = Wallet.from_label("admin"), Wallet.from_label("poor")
    sink = b"\x11" * 20

    def refusal(raw: bytes) -> str:
        with pytest.raises(TransactionRejected) as info:
            be.send_raw_transaction(raw)
        return info.value.message

    first, _h, _n = admin.sign(to=sink, data=b"", gas=21_000, gas_price=GAS_PRICE, chain_id=cid, value=1)
    be.send_raw_transaction(first)
    out = [
        refusal(first),  # pending already
        refusal(admin.sign(to=sink, data=b"", gas=21_000, gas_price=GAS_PRICE, chain_id=cid, value=2, nonce=0)[0]),
        refusal(admin.sign(to=sink, data=b"", gas=20_000, gas_price=GAS_PRICE, chain_id=cid)[0]),
        refusal(admin.sign(to=sink, data=b"", gas=30_000_001, gas_price=GAS_PRICE, chain_id=cid, nonce=1)[0]),
        refusal(admin.sign(to=sink, data=b"", gas=21_000, gas_price=10**8, chain_id=cid, nonce=1)[0]),
        refusal(poor.sign(to=sink, data=b"", gas=21_000, gas_price=GAS_PRICE, chain_id=cid)[0]),
        refusal(b"\xc0\x01"),
    ]
    be.mine(T0)
    out.append(refusal(first))  # mined: its nonce is used
    return out


def test_broadcast_rejections_read_the_same(sides: tuple[Side, Side]) -> None:
    """Every refusal a node gives at broadcast comes in anvil's own words."""
    anvil, revm = (_refusals(side) for side in sides)
    assert anvil == revm
    assert anvil[0] == "transaction already imported" and anvil[-1] == "nonce too low"


def _pool_order(side: Side) -> tuple[list[int], list[int], list[int]]:
    be = side.backend
    cid = be.chain_id
    a, b = Wallet.from_label("admin"), Wallet.from_label("market")
    be.set_eth_balance(b.address, 10**21)
    sink = b"\x11" * 20
    sent = []
    for w, nonce, gas in ((b, 0, 21_000), (a, 1, 21_000), (a, 0, 21_000), (b, 1, 21_000), (a, 3, 21_000),
                          (b, 2, 29_990_000)):
        raw, tx_hash, _ = w.sign(to=sink, data=b"", gas=gas, gas_price=GAS_PRICE, chain_id=cid, nonce=nonce)
        be.send_raw_transaction(raw)
        sent.append(tx_hash)
    be.mine(T0)
    be.mine(T0 + 1)
    first, second = side.block(1)["txs"], side.block(2)["txs"]
    waiting = [tx_hash for tx_hash in sent if be.get_receipt(tx_hash) is None]
    return [sent.index(h) for h in first], [sent.index(h) for h in second], [sent.index(h) for h in waiting]


def test_the_pool_is_first_come_first_served(sides: tuple[Side, Side]) -> None:
    """Arrival order decides, a nonce gap waits for its predecessor, a block holds 30M gas."""
    anvil, revm = (_pool_order(side) for side in sides)
    assert anvil == revm
    assert anvil[2] == [4]  # the nonce-3 transaction still waits for nonce 2
