"""The embedded chain: py-evm in this process, driven below eth-tester's normalisers.

eth-tester's public `EthereumTester` validates and normalises every argument and mines
with a random mix hash and the wall-clock time. We keep its `PyEVMBackend` for genesis
set-up and talk to the py-evm `MiningChain` directly: block timestamps come from the
caller, the mix hash is derived from the block number, receipts and logs are indexed
as blocks are sealed, and read calls reuse one VM per head block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from eth.vm.spoof import SpoofTransaction
from eth_hash.auto import keccak
from eth_tester.backends.pyevm.main import PyEVMBackend, get_default_account_state

from runner.chain.backend import Ability, Call, Log, Receipt
from runner.chain.errors import CallReverted, TransactionRejected, Unsupported
from runner.chain.revert import decode_revert_reason

DEFAULT_CHAIN_ID = 131277322940537  # eth-tester's; anvil is started with the same id
GAS_LIMIT = 30_000_000


class EthTesterBackend:
    """In-process py-evm chain with caller-controlled block timestamps."""

    name = "eth-tester"
    abilities: frozenset[Ability] = frozenset()  # transactions run on arrival, no process

    def __init__(self, genesis_timestamp: int, funded: Sequence[bytes], eth_each: int = 10**24) -> None:
        state = {addr: get_default_account_state({"balance": eth_each}) for addr in funded}
        self._backend = PyEVMBackend(
            genesis_parameters=PyEVMBackend.generate_genesis_params(
                {"timestamp": genesis_timestamp, "gas_limit": GAS_LIMIT}
            ),
            genesis_state=state,
        )
        self._chain = self._backend.chain
        self.chain_id = int(self._chain.chain_id)
        self._receipts: dict[bytes, Receipt] = {}
        self._logs: list[Log] = []
        self._pending: list[tuple[bytes, Any, Any, int]] = []  # (hash, receipt, computation, gas limit)
        self._pending_hashes: list[bytes] = []
        self._read_vm: Any = None
        self._head_timestamp = genesis_timestamp
        self._head_cache: int | None = None
        self._prev_cache: dict[bytes, tuple[bytes, ...]] = {}

    # -- reads -----------------------------------------------------------
    def block_number(self) -> int:
        return self._head_number()

    def _head_number(self) -> int:
        if self._head_cache is None:
            self._head_cache = int(self._chain.get_canonical_head().block_number)
        return self._head_cache

    def block_timestamp(self, block: int | None = None) -> int:
        if block is None:
            return self._head_timestamp
        return int(self._chain.get_canonical_block_header_by_number(block).timestamp)

    def block_hash(self, block: int) -> bytes | None:
        if block > self.block_number():
            return None
        return bytes(self._chain.get_canonical_block_header_by_number(block).hash)

    def _read_state(self, block: int | None) -> Any:
        """A fee-free state on top of `block` (head by default), reused until the next block.

        Same idea as py-evm's `in_costless_state`, but built once per head instead of once
        per call: reads are the hot path of pricing and accounting.
        """
        if block is not None and block == self._head_number():
            block = None  # "at the head" by number is the cached head state
        if block is None and self._read_vm is not None:
            return self._read_vm
        header = (
            self._chain.get_canonical_head()
            if block is None
            else self._chain.get_canonical_block_header_by_number(block)
        )
        vm = self._chain.get_vm(header)
        child = vm.generate_block_from_parent_header_and_coinbase(header, header.coinbase).header
        free = child.copy(base_fee_per_gas=0, timestamp=header.timestamp + 1)
        prev_hashes = self._child_prev_hashes(header, vm)
        state = vm.build_state(vm.chaindb.db, free, vm.chain_context, prev_hashes)
        read = (vm, state)
        if block is None:
            self._read_vm = read
        return read

    def _child_prev_hashes(self, header: Any, vm: Any) -> tuple[bytes, ...]:
        """BLOCKHASH's 256 ancestors for a state on top of `header`, built from the parent's
        (walking 256 headers per new block cost a third of all eth-tester time)."""
        parent = self._prev_cache.get(header.parent_hash)
        ancestors = tuple(vm.previous_hashes) if parent is None else parent[:255]
        hashes = (header.hash, *ancestors)[:256]
        if len(self._prev_cache) > 64:
            self._prev_cache.clear()
        self._prev_cache[header.hash] = hashes
        return hashes

    def call(self, to: bytes, data: bytes, block: int | None = None, sender: bytes | None = None) -> bytes:
        vm, state = self._read_state(block)
        origin = sender or b"\x00" * 20
        tx = vm.create_unsigned_transaction(
            nonce=state.get_nonce(origin), gas_price=0, gas=GAS_LIMIT, to=to, value=0, data=data
        )
        snap = state.snapshot()
        try:
            computation = state.apply_transaction(SpoofTransaction(tx, from_=origin))
        finally:
            state.revert(snap)
        if computation.is_error:
            raw = bytes(computation.output or b"")
            raise CallReverted(decode_revert_reason(raw) or str(computation.error), raw)
        return bytes(computation.output)

    def call_many(self, calls: Sequence[Call], block: int | None = None) -> list[bytes]:
        return [self.call(c.to, c.data, block) for c in calls]

    def refresh(self, head: int | None = None) -> None:
        """This process is the node: nobody else seals its blocks."""

    def get_code(self, address: bytes) -> bytes:
        return bytes(self._read_state(None)[1].get_code(address))

    def get_nonce(self, address: bytes, *, confirmed: bool = False) -> int:
        if confirmed:
            return int(self._read_state(None)[1].get_nonce(address))
        return int(self._chain.get_vm().state.get_nonce(address))

    def get_eth_balance(self, address: bytes) -> int:
        return int(self._read_state(None)[1].get_balance(address))

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        return self._receipts.get(tx_hash)

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        return [self._receipts.get(h) for h in tx_hashes]

    def get_logs(
        self, address: bytes | Sequence[bytes], topics: Sequence[bytes | None], from_block: int, to_block: int
    ) -> list[Log]:
        addresses = {address} if isinstance(address, bytes) else set(address)
        out = []
        for log in self._logs:
            if log.block_number < from_block or log.block_number > to_block or log.address not in addresses:
                continue
            if all(t is None or (i < len(log.topics) and log.topics[i] == t) for i, t in enumerate(topics)):
                out.append(log)
        return out

    # -- writes ----------------------------------------------------------
    def send_raw_transaction(self, raw: bytes) -> bytes:
        known = keccak(raw)
        if known in self._receipts or known in self._pending_hashes:
            raise TransactionRejected("already known")  # as a node answers a repeated broadcast
        vm = self._chain.get_vm()
        try:
            tx = vm.get_transaction_builder().decode(raw)
            if tx.nonce < vm.state.get_nonce(tx.sender):
                # In a node's words (anvil, geth, revm): the runner's recovery from a stale
                # nonce and the retry policy recognise this text, not py-evm's.
                raise TransactionRejected("nonce too low")
            _block, receipt, computation = self._chain.apply_transaction(tx)
        except TransactionRejected:
            raise
        except Exception as exc:  # py-evm raises ValidationError for bad nonce/funds
            raise TransactionRejected(str(exc)) from exc
        self._pending.append((tx.hash, receipt, computation, tx.gas))
        self._pending_hashes.append(tx.hash)
        return bytes(tx.hash)

    def mine(self, timestamp: int) -> int:
        chain = self._chain
        number = int(chain.header.block_number)
        if not self._pending:
            # with pending transactions the header already carries the timestamp they ran at
            chain.set_header_timestamp(timestamp)
        block = chain.mine_block(mix_hash=keccak(number.to_bytes(32, "big")))
        prev_cumulative = 0
        log_index = 0  # block-wide, as a node numbers logs
        for tx_hash, receipt, computation, gas_limit in self._pending:
            logs = []
            for entry in receipt.logs:
                logs.append(Log(
                    address=bytes(entry.address),
                    topics=tuple(t.to_bytes(32, "big") for t in entry.topics),
                    data=bytes(entry.data),
                    block_number=number,
                    tx_hash=bytes(tx_hash),
                    log_index=log_index,
                ))
                log_index += 1
            self._logs.extend(logs)
            self._receipts[bytes(tx_hash)] = Receipt(
                tx_hash=bytes(tx_hash),
                status=0 if computation.is_error else 1,
                block_number=number,
                gas_used=receipt.gas_used - prev_cumulative,  # py-evm's is cumulative
                gas_limit=gas_limit,
                logs=tuple(logs),
                revert_reason=decode_revert_reason(bytes(computation.output or b"")) if computation.is_error else None,
            )
            prev_cumulative = receipt.gas_used
        self._pending.clear()
        self._pending_hashes.clear()
        self._read_vm = None
        self._head_cache = None
        self._head_timestamp = int(block.header.timestamp)
        return number

    def set_next_timestamp(self, timestamp: int) -> None:
        """Timestamp of the block being built; must be set before its first transaction."""
        if not self._pending:
            self._chain.set_header_timestamp(timestamp)

    def pending_transactions(self) -> list[bytes]:
        return list(self._pending_hashes)

    def pending_among(self, tx_hashes: Sequence[bytes]) -> set[bytes]:
        held = set(self._pending_hashes)  # this process is the node: its pool is the node's
        return {h for h in tx_hashes if h in held}

    def drop_transaction(self, tx_hash: bytes) -> bool:
        return False  # transactions are executed on arrival: nothing waits in a mempool

    def send_impersonated(self, sender: bytes, to: bytes, data: bytes, gas: int) -> bytes:
        raise Unsupported(self.name, "send as an account without its key", "use a node backend (anvil)")

    def set_eth_balance(self, address: bytes, wei: int) -> None:
        raise Unsupported(self.name, "set an account's balance", "fund it with a transfer from the admin")

    def dump_state(self) -> bytes:
        raise Unsupported(self.name, "dump its state: it has no process to restart", "use anvil")

    def load_state(self, dump: bytes) -> None:
        raise Unsupported(self.name, "load a state dump", "use anvil")

    # -- isolation -------------------------------------------------------
    def snapshot(self) -> object:
        if self._pending:
            raise RuntimeError("cannot snapshot with pending transactions")
        return (self._chain.get_canonical_head().hash, len(self._logs), dict(self._receipts), self._head_timestamp)

    def revert(self, snapshot_id: object) -> None:
        head_hash, n_logs, receipts, head_ts = cast(tuple[bytes, int, dict[bytes, Receipt], int], snapshot_id)
        self._backend.revert_to_snapshot(head_hash)
        self._chain = self._backend.chain
        del self._logs[n_logs:]
        self._receipts = dict(receipts)
        self._pending.clear()
        self._pending_hashes.clear()
        self._read_vm = None
        self._head_cache = None
        self._head_timestamp = head_ts

    def close(self) -> None:
        pass
