"""Any Ethereum node over JSON-RPC: what a live deployment's runner talks to.

`RpcBackend` answers the whole `Backend` protocol with standard `eth_*` requests and
raises `Unsupported` for the development-chain abilities a production node lacks
(mining on demand, snapshots, impersonation). `harness repair --rpc` against a real
node, and the upstream of a real fork, go through it; `AnvilBackend` adds anvil's
development methods on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runner.chain import rawtx
from runner.chain.backend import Ability, Call, Log, Receipt
from runner.chain.errors import CallReverted, TransactionRejected, Unsupported
from runner.chain.revert import decode_revert_reason
from runner.chain.rpc import RpcFault, open_rpc

GAS_PRICE = 10 * 10**9  # what impersonated sends pay; the runner's own price is the client's


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(s: str) -> bytes:
    return bytes.fromhex(s[2:])


def _block_tag(block: int | None) -> str:
    return "latest" if block is None else hex(block)


def _is_revert(fault: RpcFault) -> bool:
    """A call that executed and reverted, not a node that could not run it ("header not
    found" from a replica behind the asked block, an internal error): only the former is
    the contract's answer; the latter is a `NodeError` the retry policy may ask again."""
    return fault.code == 3 or bool(_revert_data(fault)) or "revert" in fault.message.lower()


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


class RpcBackend:
    """A node reached at `url`; it mines on its own, so nothing is cached about its head."""

    name = "rpc"
    abilities: frozenset[Ability] = frozenset()

    def __init__(self, url: str, timeout: float = 30.0) -> None:  # float-ok: seconds
        self.rpc = open_rpc(url, timeout)
        self.chain_id = int(self.rpc.request("eth_chainId"), 16)
        self._gas_limits: dict[bytes, int] = {}

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(self.name, what, "a production node has no development methods")

    def refresh(self, head: int | None = None) -> None:
        """Nothing cached: a live node's head is asked every time."""

    # -- reads -----------------------------------------------------------
    def block_number(self) -> int:
        return int(self.rpc.request("eth_blockNumber"), 16)

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
            if _is_revert(fault):
                raw = _revert_data(fault)
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
                if not _is_revert(r):
                    raise r  # the node could not run it: a NodeError, not the contract's answer
                raw = _revert_data(r)
                raise CallReverted(decode_revert_reason(raw) or r.message, raw)
            out.append(_unhex(r))
        return out

    def get_code(self, address: bytes) -> bytes:
        return _unhex(self.rpc.request("eth_getCode", [_hex(address), "latest"]))

    def get_nonce(self, address: bytes, *, confirmed: bool = False) -> int:
        tag = "latest" if confirmed else "pending"
        return int(self.rpc.request("eth_getTransactionCount", [_hex(address), tag]), 16)

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
        """A receipt carries no revert data. The node's call tracer has it as the
        transaction ran, in its block; a replay at the parent block (for a node without
        the debug namespace) runs it without the transactions before it in that block: a
        swap second in its block, reverting for the first one's price impact, replayed
        fine and read "no reason" on anvil against INSUFFICIENT_OUTPUT_AMOUNT on revm."""
        try:
            trace = self.rpc.request("debug_traceTransaction", [_hex(tx_hash), {"tracer": "callTracer"}])
        except RpcFault:
            trace = None
        if isinstance(trace, dict) and "error" in trace:
            return decode_revert_reason(_unhex(trace.get("output") or "0x"))
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
    def send_raw_transaction(self, raw: bytes) -> bytes:
        try:
            tx_hash = _unhex(self.rpc.request("eth_sendRawTransaction", [_hex(raw)]))
        except RpcFault as fault:
            raise TransactionRejected(fault.message) from None
        self._gas_limits[tx_hash] = rawtx.gas_limit(raw)
        return tx_hash

    def pending_transactions(self) -> list[bytes]:
        """The node's pool in the order it would mine it: the pending block's transactions."""
        block = self.rpc.request("eth_getBlockByNumber", ["pending", False])
        return [_unhex(h) for h in (block or {}).get("transactions", [])]

    def pending_among(self, tx_hashes: Sequence[bytes]) -> set[bytes]:
        """eth_getTransactionByHash for each: known to the node and in no block yet."""
        if not tx_hashes:
            return set()
        replies = self.rpc.batch([("eth_getTransactionByHash", [_hex(h)]) for h in tx_hashes])
        out = set()
        for h, r in zip(tx_hashes, replies, strict=True):
            if isinstance(r, RpcFault):
                raise r
            if r is not None and r.get("blockNumber") is None:
                out.add(h)
        return out

    # -- development abilities: a production node has none ----------------------
    def set_next_timestamp(self, timestamp: int) -> None:
        """The node times its own blocks: the harness clock cannot reach it."""

    def mine(self, timestamp: int) -> int:
        raise self._unsupported("mine a block on demand")

    def drop_transaction(self, tx_hash: bytes) -> bool:
        raise self._unsupported("drop a pending transaction")

    def snapshot(self) -> object:
        raise self._unsupported("snapshot its chain")

    def revert(self, snapshot_id: object) -> None:
        raise self._unsupported("revert its chain")

    def send_impersonated(self, sender: bytes, to: bytes, data: bytes, gas: int) -> bytes:
        raise self._unsupported("send as an account without its key")

    def set_eth_balance(self, address: bytes, wei: int) -> None:
        raise self._unsupported("set an account's balance")

    def dump_state(self) -> bytes:
        raise self._unsupported("dump its state")

    def load_state(self, dump: bytes) -> None:
        raise self._unsupported("load a state dump")

    def close(self) -> None:
        self.rpc.close()


__all__ = ["RpcBackend"]
