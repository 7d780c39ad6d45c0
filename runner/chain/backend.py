"""The one seam between the runner and a chain node.

Every backend (embedded py-evm, anvil over raw JSON-RPC, an anvil fork) implements
`ChainBackend`; nothing above this module knows which one it talks to. The surface is
deliberately the handful of node operations a trading cycle needs, in bytes and ints,
so each backend can serve them at its own floor cost (see shared/docs/node-costs.md):
no web3.py middleware, no gas estimation, no implicit fee or nonce look-ups.

Blocks are produced explicitly (`mine(timestamp)`), never by a wall clock, so that the
scenario clock is the only source of time on every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


class Ability(StrEnum):
    """What a development chain may or may not be able to do; each backend lists its own."""

    mempool = "mempool"
    """Sent transactions wait, unexecuted, until a block is mined (stalls and drops)."""
    impersonation = "impersonation"
    """Send as an account without its key, and set balances."""
    restart = "restart"
    """The node is a process that can restart keeping its chain (state dump and load)."""


@dataclass(frozen=True, slots=True)
class Log:
    """One event log, as the sync model reads it."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    tx_hash: bytes
    log_index: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the chain says happened to a transaction.

    `revert_reason` is the decoded `Error(string)` when the node reports one; an
    out-of-gas failure has none, so `out_of_gas` is derived from gas used == limit.
    """

    tx_hash: bytes
    status: int
    block_number: int
    gas_used: int
    gas_limit: int
    logs: tuple[Log, ...] = field(default=())
    revert_reason: str | None = None

    @property
    def success(self) -> bool:
        return self.status == 1

    @property
    def out_of_gas(self) -> bool:
        # The 63/64 rule leaves the outer frame a sliver of gas when an inner call
        # burns its share, so "used nearly all of it" is the practical signature.
        return self.status == 0 and self.revert_reason is None and self.gas_used * 64 >= self.gas_limit * 63


@dataclass(frozen=True, slots=True)
class Call:
    """A read-only call: target and calldata."""

    to: bytes
    data: bytes


@runtime_checkable
class ChainBackend(Protocol):
    """The node operations the runner needs: what any node, live or local, answers."""

    @property
    def name(self) -> str: ...

    @property
    def chain_id(self) -> int: ...

    def block_number(self) -> int: ...

    def block_timestamp(self, block: int | None = None) -> int: ...

    def block_hash(self, block: int) -> bytes | None:
        """The canonical hash at `block`, None above the head (how reorgs are noticed)."""
        ...

    def call(self, to: bytes, data: bytes, block: int | None = None, sender: bytes | None = None) -> bytes:
        """eth_call; raises `CallReverted` with the decoded reason on revert."""
        ...

    def call_many(self, calls: Sequence[Call], block: int | None = None) -> list[bytes]:
        """Several eth_calls at one block, batched where the transport allows."""
        ...

    def get_code(self, address: bytes) -> bytes:
        """The runtime code at `address` (empty for an account without code)."""
        ...

    def send_raw_transaction(self, raw: bytes) -> bytes:
        """Put a signed transaction in the pending pool; returns its hash."""
        ...

    def mine(self, timestamp: int) -> int:
        """Seal one block at `timestamp` with everything pending; returns its number.

        A live node mines on its own and raises `Unsupported`."""
        ...

    def get_receipt(self, tx_hash: bytes) -> Receipt | None: ...

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        """Several receipts in one round trip where the transport allows."""
        ...

    def get_logs(
        self, address: bytes | Sequence[bytes], topics: Sequence[bytes | None], from_block: int, to_block: int
    ) -> list[Log]:
        """Logs of one contract or several (one request), in chain order."""
        ...

    def refresh(self, head: int | None = None) -> None:
        """Another process (a restarted runner, the harness) may have sealed blocks: the
        head is `head` as that process knows it, or, with None, ask the node next time."""
        ...

    def get_nonce(self, address: bytes, *, confirmed: bool = False) -> int:
        """The next nonce of `address`: counting its pending transactions (what to sign
        with next), or with `confirmed`, only those mined (what repair judges by)."""
        ...

    def get_eth_balance(self, address: bytes) -> int: ...

    def pending_transactions(self) -> list[bytes]:
        """Hashes of every transaction the node holds unmined (its whole pool)."""
        ...

    def pending_among(self, tx_hashes: Sequence[bytes]) -> set[bytes]:
        """Which of these transactions the node still holds unmined: asked of the node,
        never of a process's memory, so a restarted process gets the same answer."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class DevChain(Protocol):
    """What a development chain can do beyond a node's reads and sends.

    Every backend implements all of it; one that lacks an ability raises
    `Unsupported` (as ape's provider API does), so no caller probes for methods.
    `abilities` says ahead of time what will not raise, for validating a scenario
    before it runs; the conformance suite holds each backend to its list.
    """

    @property
    def abilities(self) -> frozenset[Ability]: ...

    def set_next_timestamp(self, timestamp: int) -> None:
        """Timestamp of the block being built; set before its first transaction."""
        ...

    def send_impersonated(self, sender: bytes, to: bytes, data: bytes, gas: int) -> bytes:
        """Send as an account whose key we do not have; returns the pending tx hash."""
        ...

    def set_eth_balance(self, address: bytes, wei: int) -> None: ...

    def drop_transaction(self, tx_hash: bytes) -> bool:
        """Remove a pending transaction (a dropped broadcast); False if it was not pending."""
        ...

    def snapshot(self) -> object: ...

    def revert(self, snapshot_id: object) -> None: ...

    def dump_state(self) -> bytes:
        """The whole chain state, for a node restart that keeps its chain."""
        ...

    def load_state(self, dump: bytes) -> None: ...


@runtime_checkable
class Backend(ChainBackend, DevChain, Protocol):
    """What every backend of this project implements: a node and a development chain."""
