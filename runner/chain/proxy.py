"""One base for every backend wrapper: retries, injected faults, wire-level accounting.

A proxy implements the whole `Backend` protocol explicitly (no `__getattr__`, so a type
checker sees every method and a new protocol method cannot slip past a wrapper
unnoticed: the conformance suite runs through the proxies too). Each node request goes
through `_request(method, thunk)`, which a subclass overrides to decide, by the request's
`NodeMethod`, what to do around it; dev-chain abilities are forwarded as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from runner.chain.backend import Ability, Backend, Call, Log, Receipt
from runner.chain.methods import NodeMethod

T = TypeVar("T")


NODE_REQUESTS = ("block_number", "block_timestamp", "block_hash", "call", "call_many", "get_code",
                 "send_raw_transaction", "mine", "get_receipt", "get_receipts", "get_logs", "get_nonce",
                 "get_eth_balance", "pending_transactions", "pending_among", "drop_transaction", "snapshot",
                 "revert")
"""The methods that go through `_request` (what `_bypass` hands out directly)."""


class BackendProxy:
    """Forwards every `Backend` method to `inner`; override `_request` to intercept."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def _request(self, method: NodeMethod, thunk: Callable[[], T]) -> T:
        """Carry out one node request; the default just does it."""
        return thunk()

    def _bypass(self, on: bool) -> None:
        """While a subclass has nothing to do around requests (nothing armed), it hands
        out the inner backend's node-request methods themselves (instance attributes
        shadow the class's): a request then costs no wrapper, lambda or `_request` call.
        `_bypass(False)` before anything is armed puts the wrappers back. The inner
        methods are taken as they are at that moment, so only a proxy's own state may
        switch it, never an inner one's."""
        for name in NODE_REQUESTS:
            if on:
                setattr(self, name, getattr(self.inner, name))
            else:
                self.__dict__.pop(name, None)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def chain_id(self) -> int:
        return self.inner.chain_id

    @property
    def abilities(self) -> frozenset[Ability]:
        return self.inner.abilities

    def refresh(self, head: int | None = None) -> None:
        self.inner.refresh(head)

    # -- node requests -------------------------------------------------------
    def block_number(self) -> int:
        return self._request(NodeMethod.block_number, self.inner.block_number)

    def block_timestamp(self, block: int | None = None) -> int:
        return self._request(NodeMethod.block_timestamp, lambda: self.inner.block_timestamp(block))

    def block_hash(self, block: int) -> bytes | None:
        return self._request(NodeMethod.block_hash, lambda: self.inner.block_hash(block))

    def call(self, to: bytes, data: bytes, block: int | None = None, sender: bytes | None = None) -> bytes:
        return self._request(NodeMethod.call, lambda: self.inner.call(to, data, block, sender))

    def call_many(self, calls: Sequence[Call], block: int | None = None) -> list[bytes]:
        return self._request(NodeMethod.call_many, lambda: self.inner.call_many(calls, block))

    def get_code(self, address: bytes) -> bytes:
        return self._request(NodeMethod.get_code, lambda: self.inner.get_code(address))

    def send_raw_transaction(self, raw: bytes) -> bytes:
        return self._request(NodeMethod.send_raw_transaction, lambda: self.inner.send_raw_transaction(raw))

    def mine(self, timestamp: int) -> int:
        return self._request(NodeMethod.mine, lambda: self.inner.mine(timestamp))

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        return self._request(NodeMethod.get_receipt, lambda: self.inner.get_receipt(tx_hash))

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        return self._request(NodeMethod.get_receipts, lambda: self.inner.get_receipts(tx_hashes))

    def get_logs(self, address: bytes | Sequence[bytes], topics: Sequence[bytes | None], from_block: int,
                 to_block: int) -> list[Log]:
        return self._request(NodeMethod.get_logs,
                             lambda: self.inner.get_logs(address, topics, from_block, to_block))

    def get_nonce(self, address: bytes, *, confirmed: bool = False) -> int:
        return self._request(NodeMethod.get_nonce, lambda: self.inner.get_nonce(address, confirmed=confirmed))

    def get_eth_balance(self, address: bytes) -> int:
        return self._request(NodeMethod.get_eth_balance, lambda: self.inner.get_eth_balance(address))

    def pending_transactions(self) -> list[bytes]:
        return self._request(NodeMethod.pending_transactions, self.inner.pending_transactions)

    def pending_among(self, tx_hashes: Sequence[bytes]) -> set[bytes]:
        return self._request(NodeMethod.pending_among, lambda: self.inner.pending_among(tx_hashes))

    def drop_transaction(self, tx_hash: bytes) -> bool:
        return self._request(NodeMethod.drop_transaction, lambda: self.inner.drop_transaction(tx_hash))

    def snapshot(self) -> object:
        return self._request(NodeMethod.snapshot, self.inner.snapshot)

    def revert(self, snapshot_id: object) -> None:
        self._request(NodeMethod.revert, lambda: self.inner.revert(snapshot_id))

    # -- dev-chain abilities (the harness's, never retried or faulted) -------------
    def set_next_timestamp(self, timestamp: int) -> None:
        self.inner.set_next_timestamp(timestamp)

    def send_impersonated(self, sender: bytes, to: bytes, data: bytes, gas: int) -> bytes:
        return self.inner.send_impersonated(sender, to, data, gas)

    def set_eth_balance(self, address: bytes, wei: int) -> None:
        self.inner.set_eth_balance(address, wei)

    def dump_state(self) -> bytes:
        return self.inner.dump_state()

    def load_state(self, dump: bytes) -> None:
        self.inner.load_state(dump)

    def close(self) -> None:
        self.inner.close()


__all__ = ["NODE_REQUESTS", "BackendProxy"]
