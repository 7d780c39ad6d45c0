"""The chain as the runner and the harness use it: one backend, one clock, explicit blocks.

Time: every block is sealed at `max(clock, previous block + 1)`, where `clock` is the
scenario time the harness (or a live clock) sets. So block timestamps, deadlines and
anything else the contracts read follow the scenario on every backend.

Mining: with `automine` (the default) a sent transaction is sealed in its own block
when someone waits for it, the way a fast, empty chain behaves. With it off, sent
transactions stay pending until `mine()` is called: stuck transactions are scriptable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.chain.abi import Function
from runner.chain.backend import Ability, Backend, Call, Receipt
from runner.chain.errors import ChainError, TransactionPending
from runner.chain.wallet import ImpersonatedWallet, Wallet, impersonated_tx_hash
from runner.errors import CannotImpersonate

GAS_PRICE = 10 * 10**9  # fixed, legacy: no fee look-ups per transaction


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    raw: bytes
    tx_hash: bytes
    nonce: int
    gas: int
    sender: bytes
    # An impersonated send has no signature: what the node is asked to execute as `sender`.
    impersonated: bool = False
    to: bytes | None = None
    data: bytes = b""


class ChainClient:
    """A backend plus the clock and the block-production policy."""

    def __init__(self, backend: Backend, *, clock: int, automine: bool = True,
                 last_block_ts: int | None = None) -> None:
        self.backend = backend
        self.automine = automine
        self._clock = clock
        self._last_block_ts = backend.block_timestamp() if last_block_ts is None else last_block_ts
        self._block_open = False  # a block is being built (pending transactions exist)
        self._block_ts = 0
        self._head: int | None = None
        self.sent = 0  # transactions sent, calls made: the node-work count of a run
        self.reads = 0

    @property
    def chain_id(self) -> int:
        return self.backend.chain_id

    # -- time --------------------------------------------------------------
    @property
    def clock(self) -> int:
        return self._clock

    def set_clock(self, timestamp: int) -> None:
        """Advance scenario time; blocks sealed from now on carry at least this time."""
        self._clock = max(self._clock, timestamp)

    def resync(self, clock: int, open_block_ts: int | None = None, *, head: int | None = None,
               last_block_ts: int | None = None) -> None:
        """Take up the chain as it is now (another process may have sealed blocks since):
        the head and the last block's time (as the other process knows them, or from the
        node), the clock at `clock`, and the block another client left being built (its
        timestamp fixed by its first transaction), if any."""
        self.backend.refresh(head)
        self._head = head
        self._last_block_ts = self.backend.block_timestamp() if last_block_ts is None else last_block_ts
        self._clock = max(clock, self._last_block_ts)
        self._block_open = open_block_ts is not None
        self._block_ts = open_block_ts or 0

    @property
    def last_block_ts(self) -> int:
        return self._last_block_ts

    @property
    def open_block_ts(self) -> int | None:
        """The timestamp of the block being built (pending transactions), if any."""
        return self._block_ts if self._block_open else None

    def _next_block_ts(self) -> int:
        return max(self._clock, self._last_block_ts + 1)

    # -- reads -------------------------------------------------------------
    def read(self, to: bytes, fn: Function, *args: Any, block: int | None = None) -> Any:
        """Call a view function and return its single (or tuple of) outputs."""
        self.reads += 1
        out = fn.decode(self.backend.call(to, fn.encode(*args), block))
        return out[0] if len(out) == 1 else out

    def read_many(self, calls: Sequence[tuple[bytes, Function, tuple[Any, ...]]], block: int | None = None) -> list[Any]:
        """Several view calls at one block, in one round trip where the backend allows."""
        if not calls:
            return []
        self.reads += 1
        raw = self.backend.call_many([Call(to, fn.encode(*args)) for to, fn, args in calls], block)
        out = []
        for (_, fn, _), data in zip(calls, raw, strict=True):
            values = fn.decode(data)
            out.append(values[0] if len(values) == 1 else values)
        return out

    def block_number(self) -> int:
        """The head: asked once, then known from our own mining until a revert or another
        process's blocks (`resync`). Cached here, above every backend proxy, so a read
        served from it is no node request on any backend (the fault injectors, in-process
        and on the wire, count the same requests)."""
        if self._head is None:
            self._head = self.backend.block_number()
        return self._head

    @property
    def known_head(self) -> int | None:
        """The head if this client knows it without asking."""
        return self._head

    # -- writes ------------------------------------------------------------
    def sign(self, wallet: Wallet, to: bytes | None, data: bytes, gas: int, value: int = 0) -> SignedTransaction:
        """Sign with the wallet's next nonce; nothing reaches the node yet.

        Splitting signing from broadcasting lets the runner write the transaction hash
        to its state before the node sees it: a crash in between is then repairable. An
        `ImpersonatedWallet` is not signed for: its hash is the one the node will give the
        impersonated send at that nonce, so the same write-ahead protocol holds.
        """
        if isinstance(wallet, ImpersonatedWallet):
            return self._impersonated(wallet, to, data, gas, value)
        raw, tx_hash, nonce = wallet.sign(
            to=to, data=data, gas=gas, gas_price=GAS_PRICE, chain_id=self.chain_id, value=value
        )
        return SignedTransaction(raw=raw, tx_hash=tx_hash, nonce=nonce, gas=gas, sender=wallet.address)

    def _impersonated(self, wallet: ImpersonatedWallet, to: bytes | None, data: bytes, gas: int,
                      value: int) -> SignedTransaction:
        if Ability.impersonation not in self.backend.abilities:
            raise CannotImpersonate(
                f"the runner sends as {wallet.checksum_address} ({wallet.label}), whose key is not held here, "
                f"and backend {self.backend.name} cannot impersonate an account: run it on a fork "
                "(anvil-fork or revm), or give the runner that account's key")
        if to is None or value:
            raise CannotImpersonate(f"an impersonated send of {wallet.checksum_address} is a plain call: "
                                    "no contract creation, no value")
        nonce = wallet.nonce
        tx_hash = impersonated_tx_hash(wallet.address, nonce, GAS_PRICE, gas, to, data, self.chain_id)
        wallet.nonce = nonce + 1
        return SignedTransaction(raw=b"", tx_hash=tx_hash, nonce=nonce, gas=gas, sender=wallet.address,
                                 impersonated=True, to=to, data=data)

    def _open_block(self) -> None:
        """The first transaction of a block fixes its timestamp, before it executes."""
        if not self._block_open:
            self._block_ts = self._next_block_ts()
            self.backend.set_next_timestamp(self._block_ts)
            self._block_open = True

    def broadcast(self, tx: SignedTransaction) -> bytes:
        self._open_block()
        self.sent += 1
        if not tx.impersonated:
            self.backend.send_raw_transaction(tx.raw)
            return tx.tx_hash
        assert tx.to is not None
        got = self.backend.send_impersonated(tx.sender, tx.to, tx.data, tx.gas)
        if got != tx.tx_hash:  # the node used another nonce than the one written down
            raise ChainError(f"the impersonated send of 0x{tx.sender.hex()} at nonce {tx.nonce} came back as "
                             f"0x{got.hex()}, not 0x{tx.tx_hash.hex()}: the node's nonce moved")
        return tx.tx_hash

    def send(self, wallet: Wallet, to: bytes | None, data: bytes, gas: int, value: int = 0) -> bytes:
        """Sign and broadcast; returns the tx hash without waiting for inclusion."""
        tx = self.sign(wallet, to, data, gas, value)
        try:
            return self.broadcast(tx)
        except Exception:
            wallet.nonce = tx.nonce  # the node refused it: the nonce was not consumed
            raise

    def send_as(self, sender: bytes, to: bytes, data: bytes, gas: int) -> Receipt:
        """Send as an account whose key we do not have (node impersonation) and wait.

        Raises `Unsupported` on a backend that cannot impersonate."""
        self._open_block()
        tx_hash = self.backend.send_impersonated(sender, to, data, gas)
        self.sent += 1
        receipt = self.wait(tx_hash)
        if receipt is None:
            raise TransactionPending(tx_hash, "impersonated transaction")
        return receipt

    def mine(self) -> int:
        """Seal a block now (with whatever is pending, possibly nothing)."""
        ts = self._block_ts if self._block_open else self._next_block_ts()
        number = self.backend.mine(ts)
        self._head = number
        self._last_block_ts = ts
        self._block_open = False
        return number

    def flush(self) -> int | None:
        """Seal the block being built, if any and if blocks are being produced."""
        if self._block_open and self.automine:
            return self.mine()
        return None

    def wait(self, tx_hash: bytes) -> Receipt | None:
        """The receipt; under automine a still-pending transaction is mined first."""
        if self.automine and self._block_open:
            self.mine()  # everything pending lands in this block: one receipt read each
        return self.backend.get_receipt(tx_hash)

    def wait_many(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        """Receipts of several transactions (one block under automine, one round trip)."""
        if not tx_hashes:
            return []
        if self.automine and self._block_open:
            self.mine()
        return self.backend.get_receipts(tx_hashes)

    def transact(self, wallet: Wallet, to: bytes | None, data: bytes, gas: int, value: int = 0) -> Receipt:
        """Send and wait: the harness's own set-up transactions, which must land.

        Raises `TransactionPending` when blocks are not being produced (automine off). Not
        for the runner's tick: a node may leave any of its transactions pending for as long
        as it likes, so they are broadcast and resolved at a later cycle (the trades, the
        redemption queue's payment in runner/models/redemptions.py)."""
        tx_hash = self.send(wallet, to, data, gas, value)
        receipt = self.wait(tx_hash)
        if receipt is None:
            raise TransactionPending(tx_hash)
        return receipt

    def sync_nonce(self, wallet: Wallet) -> None:
        """Re-read a wallet's nonce from the chain (after a restart or a dropped tx)."""
        wallet.nonce = self.backend.get_nonce(wallet.address)

    # -- isolation ---------------------------------------------------------
    def snapshot(self) -> tuple[object, int, int]:
        if self._block_open:
            self.mine()
        return (self.backend.snapshot(), self._last_block_ts, self._clock)

    def revert(self, snap: tuple[object, int, int]) -> None:
        backend_snap, last_ts, clock = snap
        self.backend.revert(backend_snap)
        self._head = None
        self._last_block_ts = last_ts
        self._clock = clock
        self._block_open = False
