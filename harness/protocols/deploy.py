"""Sending the set-up transactions of a protocol deployment: in one fixed order, with
explicit gas, packed into as few blocks as the block gas limit allows.

Addresses are predicted from the sender's nonce (CREATE), so they depend only on the
order of transactions, never on timing or on the backend: eth-tester and anvil give the
same address to every contract. Every receipt is checked; a failure names the contract
or action, the address and the revert reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth_hash.auto import keccak

from harness.protocols.errors import DeploymentFailed, ProtocolActionFailed
from runner.chain.abi import ContractArtifact, artifact
from runner.chain.backend import Receipt
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet

#: What one block may carry in gas *limits*. anvil leaves a transaction pending when its
#: limit exceeds the block's remaining gas, so a batch is cut before it would.
BLOCK_GAS_BUDGET = 29_000_000
#: No deadline for set-up swaps and liquidity: they are mined in the block they are sent.
NO_DEADLINE = 2**256 - 1
MAX_UINT = 2**256 - 1


def create_address(sender: bytes, nonce: int) -> bytes:
    """The address CREATE gives the contract deployed by `sender` at `nonce`."""
    return bytes(keccak(rlp.encode([sender, nonce]))[-20:])


def as_address(value: str | bytes) -> bytes:
    """An ABI-decoded address (eth_abi gives a checksummed string) as 20 bytes."""
    if isinstance(value, bytes):
        return value
    return bytes.fromhex(value.removeprefix("0x"))


def describe_failure(receipt: Receipt) -> str:
    if receipt.revert_reason:
        return receipt.revert_reason
    if receipt.out_of_gas:
        return f"out of gas ({receipt.gas_used} of {receipt.gas_limit})"
    return "reverted without a reason"


@dataclass
class SentTx:
    """A transaction of the session; `receipt` is set once its block is mined."""

    tx_hash: bytes
    gas: int
    what: str
    to: bytes | None
    created: bytes | None  # the predicted address, for a deployment
    receipt: Receipt | None = None


@dataclass
class Deployer:
    """The admin's deployment session on one chain.

    Outside `block()` every transaction is mined on its own; inside, transactions are
    sent in order and mined together (several blocks if their gas limits need it), then
    every receipt is checked.
    """

    chain: ChainClient
    admin: Wallet
    _batch: list[SentTx] | None = field(default=None, repr=False)
    _batch_gas: int = 0

    # -- reads ---------------------------------------------------------------
    def read(self, to: bytes, contract: str | ContractArtifact, fn: str, *args: Any) -> Any:
        art = artifact(contract) if isinstance(contract, str) else contract
        return self.chain.read(to, art.fn(fn), *args)

    def read_address(self, to: bytes, contract: str, fn: str, *args: Any) -> bytes:
        return as_address(self.read(to, contract, fn, *args))

    # -- writes --------------------------------------------------------------
    def deploy(self, contract: str, *args: Any, gas: int) -> bytes:
        """Create `contract` (an artifact name) from the admin; returns its address."""
        address = create_address(self.admin.address, self.admin.nonce)
        data = artifact(contract).deploy_data(*args)
        self._submit(self.admin, None, data, gas, f"deploy {contract}", address)
        return address

    def send(self, wallet: Wallet, to: bytes, contract: str, fn: str, *args: Any, gas: int,
             action: str = "", value: int = 0) -> SentTx:
        """Call `contract.fn(*args)` at `to` from `wallet`."""
        data = artifact(contract).fn(fn).encode(*args)
        return self._submit(wallet, to, data, gas, action or f"{contract}.{fn}", None, value)

    def fund(self, to: bytes, wei: int) -> SentTx:
        return self._submit(self.admin, to, b"", 21_000, f"fund 0x{to.hex()}", None, wei)

    def _submit(self, wallet: Wallet, to: bytes | None, data: bytes, gas: int, what: str,
                created: bytes | None, value: int = 0) -> SentTx:
        if self._batch is None:
            receipt = self.chain.transact(wallet, to, data, gas, value)
            sent = SentTx(receipt.tx_hash, gas, what, to, created, receipt)
            self._check(receipt, sent)
            return sent
        if self._batch and self._batch_gas + gas > BLOCK_GAS_BUDGET:
            self._mine_batch()
        sent = SentTx(self.chain.send(wallet, to, data, gas, value), gas, what, to, created)
        self._batch.append(sent)
        self._batch_gas += gas
        return sent

    @contextmanager
    def block(self) -> Iterator[None]:
        """Send the enclosed transactions together; all receipts are checked on exit."""
        if self._batch is not None:
            yield
            return
        self._batch, self._batch_gas = [], 0
        try:
            yield
            self._mine_batch()
        finally:
            self._batch, self._batch_gas = None, 0

    def _mine_batch(self) -> None:
        assert self._batch is not None
        sent, self._batch, self._batch_gas = self._batch, [], 0
        receipts = self.chain.wait_many([p.tx_hash for p in sent])
        for pending, receipt in zip(sent, receipts, strict=True):
            if receipt is None:
                raise ProtocolActionFailed(pending.what, pending.to, "still pending after the block was mined")
            pending.receipt = receipt
            self._check(receipt, pending)

    @staticmethod
    def _check(receipt: Receipt, pending: SentTx) -> None:
        if receipt.success:
            return
        reason = describe_failure(receipt)
        if pending.created is not None:
            raise DeploymentFailed(pending.what.removeprefix("deploy "), pending.created, reason)
        raise ProtocolActionFailed(pending.what, pending.to, reason)
