"""anvil (Foundry) as a chain backend, over raw JSON-RPC.

Automine is off: transactions wait in anvil's mempool until `mine()` seals a block at a
timestamp the caller gives (`evm_mine` with a timestamp). That keeps the scenario clock
the only clock, gives every block the same number as on the embedded chain, and makes
stuck, dropped and replaced transactions possible to script.
Starting and stopping the anvil process is the harness's job (harness/anvil_node.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runner.chain.backend import Call, Log, Receipt
from runner.chain.errors import CallReverted, TransactionRejected
from runner.chain.revert import decode_revert_reason
from runner.chain.rpc import JsonRpcClient, RpcFault


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(s: str) -> bytes:
    return bytes.fromhex(s[2:])


def _block_tag(block: int | None) -> str:
    return "latest" if block is None else hex(block)


def _revert_data(fault: RpcFault) -> bytes:
    data = fault.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return _unhex(data)
        except ValueError:
            return b""
    return b""


class AnvilBackend:
    """A running anvil node reached at `url`."""

    name = "anvil"

    def __init__(self, url: str, timeout: float = 30.0) -> None:  # float-ok: seconds
        self.rpc = JsonRpcClient(url, timeout=timeout)
        self.chain_id = int(self.rpc.request("eth_chainId"), 16)
        self.rpc.request("evm_setAutomine", [False])
        self._gas_limits: dict[bytes, int] = {}
        self._pending: list[bytes] = []
        self._next_ts: int | None = None
        self._head: int | None = None  # we are the only miner: the head is known after mine()

    def reconnect(self, url: str) -> None:
        """Talk to a new node process at `url` (a restarted node with the same chain)."""
        self.rpc.close()
        self.rpc = JsonRpcClient(url, timeout=self.rpc._timeout)
        self._head = None
        self.rpc.request("evm_setAutomine", [False])

    # -- reads -----------------------------------------------------------
    def block_number(self) -> int:
        if self._head is None:
            self._head = int(self.rpc.request("eth_blockNumber"), 16)
        return self._head

    def block_timestamp(self, block: int | None = None) -> int:
        blk = self.rpc.request("eth_getBlockByNumber", [_block_tag(block), False])
        return int(blk["timestamp"], 16)

    def block_hash(self, block: int) -> bytes | None:
        blk = self.rpc.request("eth_getBlockByNumber", [hex(block), False])
        return None if blk is None else _unhex(blk["hash"])

    def call(self, to: bytes, data: bytes, block: int | None = None, sender: bytes | None = None) -> bytes:
        tx: dict[str, Any] = {"to": _hex(to), "data": _hex(data)}
        if sender is not None:
            tx["from"] = _hex(sender)
        try:
            return _unhex(self.rpc.request("eth_call", [tx, _block_tag(block)]))
        except RpcFault as fault:
            raw = _revert_data(fault)
            if fault.code == 3 or raw or "revert" in fault.message.lower():
                raise CallReverted(decode_revert_reason(raw) or fault.message, raw) from None
            raise

    def call_many(self, calls: Sequence[Call], block: int | None = None) -> list[bytes]:
        tag = _block_tag(block)
        results = self.rpc.batch(
            [("eth_call", [{"to": _hex(c.to), "data": _hex(c.data)}, tag]) for c in calls]
        )
        out = []
        for r in results:
            if isinstance(r, RpcFault):
                raw = _revert_data(r)
                raise CallReverted(decode_revert_reason(raw) or r.message, raw)
            out.append(_unhex(r))
        return out

    def get_nonce(self, address: bytes) -> int:
        return int(self.rpc.request("eth_getTransactionCount", [_hex(address), "pending"]), 16)

    def get_eth_balance(self, address: bytes) -> int:
        return int(self.rpc.request("eth_getBalance", [_hex(address), "latest"]), 16)

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        return self._receipt(tx_hash, self.rpc.request("eth_getTransactionReceipt", [_hex(tx_hash)]))

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        if len(tx_hashes) == 1:
            return [self.get_receipt(tx_hashes[0])]
        replies = self.rpc.batch([("eth_getTransactionReceipt", [_hex(h)]) for h in tx_hashes])
        out = []
        for h, r in zip(tx_hashes, replies, strict=True):
            if isinstance(r, RpcFault):
                raise r
            out.append(self._receipt(h, r))
        return out

    def _receipt(self, tx_hash: bytes, r: dict[str, Any] | None) -> Receipt | None:
        if r is None:
            return None
        status = int(r["status"], 16)
        reason = None
        if status == 0:
            reason = self._failure_reason(tx_hash, r)
        gas_limit = self._gas_limits.get(tx_hash)
        if gas_limit is None:
            tx = self.rpc.request("eth_getTransactionByHash", [_hex(tx_hash)])
            gas_limit = int(tx["gas"], 16)
        return Receipt(
            tx_hash=tx_hash,
            status=status,
            block_number=int(r["blockNumber"], 16),
            gas_used=int(r["gasUsed"], 16),
            gas_limit=gas_limit,
            logs=tuple(self._log(entry) for entry in r["logs"]),
            revert_reason=reason,
        )

    def _failure_reason(self, tx_hash: bytes, receipt: dict[str, Any]) -> str | None:
        # A receipt carries no revert data; replay the transaction at its block to read it.
        tx = self.rpc.request("eth_getTransactionByHash", [_hex(tx_hash)])
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        parent = hex(int(receipt["blockNumber"], 16) - 1)
        try:
            self.rpc.request("eth_call", [call, parent])
        except RpcFault as fault:
            raw = _revert_data(fault)
            return decode_revert_reason(raw)
        return None

    @staticmethod
    def _log(entry: dict[str, Any]) -> Log:
        return Log(
            address=_unhex(entry["address"]),
            topics=tuple(_unhex(t) for t in entry["topics"]),
            data=_unhex(entry["data"]),
            block_number=int(entry["blockNumber"], 16),
            tx_hash=_unhex(entry["transactionHash"]),
            log_index=int(entry["logIndex"], 16),
        )

    def get_logs(
        self, address: bytes | Sequence[bytes], topics: Sequence[bytes | None], from_block: int, to_block: int
    ) -> list[Log]:
        flt = {
            "address": _hex(address) if isinstance(address, bytes) else [_hex(a) for a in address],
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "topics": [None if t is None else _hex(t) for t in topics],
        }
        return [self._log(e) for e in self.rpc.request("eth_getLogs", [flt])]

    # -- writes ----------------------------------------------------------
    def set_next_timestamp(self, timestamp: int) -> None:
        self._next_ts = timestamp

    def send_raw_transaction(self, raw: bytes) -> bytes:
        try:
            tx_hash = _unhex(self.rpc.request("eth_sendRawTransaction", [_hex(raw)]))
        except RpcFault as fault:
            raise TransactionRejected(fault.message) from None
        self._pending.append(tx_hash)
        return tx_hash

    def remember_gas_limit(self, tx_hash: bytes, gas_limit: int) -> None:
        self._gas_limits[tx_hash] = gas_limit

    def mine(self, timestamp: int) -> int:
        head = self.block_number()
        self.rpc.request("evm_mine", [timestamp])
        self._pending.clear()
        self._next_ts = None
        self._head = head + 1
        return self._head

    def pending_transactions(self) -> list[bytes]:
        return list(self._pending)

    def drop_transaction(self, tx_hash: bytes) -> bool:
        dropped = self.rpc.request("anvil_dropTransaction", [_hex(tx_hash)])
        if tx_hash in self._pending:
            self._pending.remove(tx_hash)
        return dropped is not None

    # -- isolation -------------------------------------------------------
    def snapshot(self) -> object:
        return self.rpc.request("evm_snapshot")

    def revert(self, snapshot_id: object) -> None:
        # A snapshot id is consumed by a revert: callers take a fresh one after.
        self._head = None
        # A revert keeps the mempool: what the previous user left pending must not land
        # in the next user's first block.
        self.rpc.request("anvil_dropAllTransactions")
        ok = self.rpc.request("evm_revert", [snapshot_id])
        if not ok:
            raise RuntimeError(f"evm_revert({snapshot_id}) failed: snapshot unknown or already used")
        self._pending.clear()
        self._gas_limits.clear()

    def send_impersonated(self, sender: bytes, to: bytes, data: bytes, gas: int) -> bytes:
        """Send as `sender` without its key (anvil_impersonateAccount): third parties on a node."""
        self.rpc.request("anvil_impersonateAccount", [_hex(sender)])
        try:
            balance = int(self.rpc.request("eth_getBalance", [_hex(sender), "latest"]), 16)
            if balance < 10**17:
                self.set_eth_balance(sender, 10**18)
            tx = {"from": _hex(sender), "to": _hex(to), "data": _hex(data), "gas": hex(gas),
                  "gasPrice": hex(10 * 10**9)}
            tx_hash = _unhex(self.rpc.request("eth_sendTransaction", [tx]))
        finally:
            self.rpc.request("anvil_stopImpersonatingAccount", [_hex(sender)])
        self._pending.append(tx_hash)
        self._gas_limits[tx_hash] = gas
        return tx_hash

    def set_eth_balance(self, address: bytes, wei: int) -> None:
        self.rpc.request("anvil_setBalance", [_hex(address), hex(wei)])

    def dump_state(self) -> str:
        """anvil_dumpState: accounts, blocks and receipts (gzipped JSON, hex), for a restart."""
        return str(self.rpc.request("anvil_dumpState"))

    def load_state(self, dump: str | bytes) -> None:
        """anvil_loadState into this (fresh) node: the dumped chain comes back, head included."""
        self.rpc.request("anvil_loadState", [dump.decode() if isinstance(dump, bytes) else dump])
        self._head = None

    def close(self) -> None:
        self.rpc.close()
