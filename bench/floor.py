"""2: the floor: one cycle's node work as raw JSON-RPC on the same anvil.

Everything is prepared before the clock starts: a funded floor account deploys a token
and mints itself a balance, every transaction is pre-signed (ERC-20 `transfer`), every
request body pre-encoded. The timed loop only posts bodies over one kept-alive HTTP/1.1
connection (http.client, TCP_NODELAY: the transport the runner itself uses) and reads
the answers. Two floors:

  ops floor       the cycle's essential node operations, one request each: its eth_calls
                  (batch members counted one each), its eth_sendRawTransactions and its
                  evm_mines.
  requests floor  the exact per-method mix of HTTP round trips the run made (receipts,
                  eth_blockNumber, eth_getLogs, batches of the same sizes, ...), replayed
                  raw: the difference to the run is Python, the difference to the ops floor
                  is round trips that could be avoided.

Both start from the same chain height as a reference run (the caller reverts to the
deployed world first) and each timed plan runs between evm_snapshot and evm_revert, so
every repeat mines on a chain of the same length as the run did: on anvil 1.7.1 with the
prague hardfork a block costs more the longer the chain is (EIP-2935 history contract),
so a floor measured on a longer chain would not be comparable.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from bench.clock import median, now

FLOOR_LABEL = "bench/floor"
TX_GAS = 100_000
HEADERS = {"Content-Type": "application/json"}


class RawConnection:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        self.conn.connect()
        assert self.conn.sock is not None
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._id = 0

    def post(self, body: bytes) -> bytes:
        self.conn.request("POST", "/", body, HEADERS)
        return self.conn.getresponse().read()

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        self._id += 1
        reply = json.loads(self.post(json.dumps(
            {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params or []}).encode()))
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        self.conn.close()


def _body(method: str, params: list[Any], rid: int = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode()


def _spread(total: int, cycles: int, k: int) -> int:
    """How many of `total` operations fall in cycle k when spread evenly over `cycles`."""
    return (total * (k + 1)) // cycles - (total * k) // cycles


class FloorChain:
    """The floor account, its token and a supply of pre-signed transactions and mine bodies."""

    def __init__(self, url: str) -> None:
        from runner.chain.abi import artifact
        from runner.chain.client import GAS_PRICE
        from runner.chain.wallet import Wallet

        self.rpc = RawConnection(url)
        self.snapshot = self.rpc.call("evm_snapshot")
        self.wallet = Wallet.from_label(FLOOR_LABEL)
        self.addr = "0x" + self.wallet.address.hex()
        self.gas_price = GAS_PRICE
        self.chain_id = int(self.rpc.call("eth_chainId"), 16)
        self.rpc.call("anvil_setBalance", [self.addr, hex(10**24)])
        self.wallet.nonce = int(self.rpc.call("eth_getTransactionCount", [self.addr, "pending"]), 16)
        head = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        self.ts = int(head["timestamp"], 16)
        token = artifact("TestToken")
        deploy_nonce = self.wallet.nonce
        self._send_and_mine(None, token.deploy_data("Floor", "FLR", 18), 3_000_000)
        self.token = self._create_address(self.wallet.address, deploy_nonce)
        self.token_hex = "0x" + self.token.hex()
        self._send_and_mine(self.token, token.fn("mint").encode(self.wallet.address, 10**30), 200_000)
        self.transfer_data = token.fn("transfer").encode(b"\x11" * 20, 1)
        self.balance_data = "0x" + token.fn("balanceOf").encode(self.wallet.address).hex()
        self.call_body = _body("eth_call", [{"to": self.token_hex, "data": self.balance_data}, "latest"])
        # warm the recipient slot so every timed transfer costs the same
        self._send_and_mine(self.token, self.transfer_data, TX_GAS)

    @staticmethod
    def _create_address(sender: bytes, nonce: int) -> bytes:
        import rlp
        from eth_hash.auto import keccak

        return keccak(rlp.encode([sender, nonce]))[-20:]

    def _sign(self, to: bytes | None, data: bytes, gas: int) -> tuple[bytes, bytes]:
        raw, tx_hash, _n = self.wallet.sign(to=to, data=data, gas=gas, gas_price=self.gas_price,
                                            chain_id=self.chain_id)
        return raw, tx_hash

    def _send_and_mine(self, to: bytes | None, data: bytes, gas: int) -> None:
        raw, tx_hash = self._sign(to, data, gas)
        self.rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])
        self.ts += 1
        self.rpc.call("evm_mine", [self.ts])
        receipt = self.rpc.call("eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
        if receipt is None or int(receipt["status"], 16) != 1:
            raise RuntimeError(f"floor set-up transaction failed: {receipt}")

    def tx_body(self) -> tuple[bytes, str]:
        raw, tx_hash = self._sign(self.token, self.transfer_data, TX_GAS)
        return _body("eth_sendRawTransaction", ["0x" + raw.hex()]), "0x" + tx_hash.hex()

    def mark(self) -> tuple[int, int]:
        return self.wallet.nonce, self.ts

    def rewind(self, mark: tuple[int, int]) -> None:
        self.wallet.nonce, self.ts = mark

    def mine_body(self) -> bytes:
        self.ts += 1
        return _body("evm_mine", [self.ts])

    def batch_body(self, size: int) -> bytes:
        params = [{"to": self.token_hex, "data": self.balance_data}, "latest"]
        return json.dumps([{"jsonrpc": "2.0", "id": i + 1, "method": "eth_call", "params": params}
                           for i in range(size)]).encode()

    def close(self) -> None:
        try:
            self.rpc.call("evm_revert", [self.snapshot])
        finally:
            self.rpc.close()


def _ops_plan(fc: FloorChain, ops: dict[str, int], cycles: int) -> list[bytes]:
    plan: list[bytes] = []
    for k in range(cycles):
        calls = _spread(ops["eth_call"], cycles, k)
        txs = _spread(ops["transactions"], cycles, k)
        mines = _spread(ops["mines"], cycles, k)
        half = calls // 2
        plan += [fc.call_body] * half
        for _ in range(txs):
            plan.append(fc.tx_body()[0])
            if mines:
                plan.append(fc.mine_body())
                mines -= 1
        plan += [fc.call_body] * (calls - half)
        plan += [fc.mine_body() for _ in range(mines)]
    return plan


def _requests_plan(fc: FloorChain, posts: dict[str, int], batch_sizes: dict[str, list[int]],
                   cycles: int) -> tuple[list[bytes], Counter[str]]:
    """Replay the run's per-method round trips (batches as batches of the same sizes);
    methods without a cheap equivalent become eth_blockNumber (counted in the result)."""
    simple = {
        "eth_call": fc.call_body,
        "eth_blockNumber": _body("eth_blockNumber", []),
        "eth_getLogs": _body("eth_getLogs", [{"address": fc.token_hex, "fromBlock": "latest",
                                               "toBlock": "latest", "topics": []}]),
        "eth_getTransactionCount": _body("eth_getTransactionCount", [fc.addr, "pending"]),
        "eth_getBlockByNumber": _body("eth_getBlockByNumber", ["latest", False]),
        "eth_getBalance": _body("eth_getBalance", [fc.addr, "latest"]),
    }
    standin = Counter[str]()
    plan: list[bytes] = []
    hashes: list[str] = []

    def receipts_body(size: int) -> bytes:
        recent = (hashes[-size:] if hashes else ["0x" + "00" * 32])
        recent = (recent * size)[:size]
        return json.dumps([{"jsonrpc": "2.0", "id": i + 1, "method": "eth_getTransactionReceipt", "params": [h]}
                           for i, h in enumerate(recent)]).encode()

    for k in range(cycles):
        n = {label: _spread(total, cycles, k) for label, total in posts.items()}
        for label, count in n.items():
            if label in simple:
                plan += [simple[label]] * count
            elif label.startswith("batch[") and "eth_getTransactionReceipt" not in label:
                sizes = batch_sizes.get(label, [])
                a, b = (len(sizes) * k) // cycles, (len(sizes) * (k + 1)) // cycles
                plan += [fc.batch_body(s) for s in sizes[a:b]]
                if label != "batch[eth_call]":
                    standin[label] += b - a
            elif label.startswith("batch[") or label in (
                    "eth_sendRawTransaction", "evm_mine", "eth_getTransactionReceipt"):
                continue  # below, in transaction order
            else:
                standin[label] += count
                plan += [simple["eth_blockNumber"]] * count
        sends = n.get("eth_sendRawTransaction", 0)
        mines = n.get("evm_mine", 0)
        receipts = n.get("eth_getTransactionReceipt", 0)
        rsizes = batch_sizes.get("batch[eth_getTransactionReceipt]", [])
        a, b = (len(rsizes) * k) // cycles, (len(rsizes) * (k + 1)) // cycles
        receipt_batches = rsizes[a:b]
        per_mine = max(1, -(-sends // max(1, mines)))  # sends per block, rounded up
        sent_in_block = 0
        for _ in range(sends):
            body, tx_hash = fc.tx_body()
            hashes.append(tx_hash)
            plan.append(body)
            sent_in_block += 1
            if mines and sent_in_block >= per_mine:
                plan.append(fc.mine_body())
                mines -= 1
                sent_in_block = 0
                if receipt_batches:
                    plan.append(receipts_body(receipt_batches.pop(0)))
                elif receipts:
                    plan.append(_body("eth_getTransactionReceipt", [tx_hash]))
                    receipts -= 1
        plan += [fc.mine_body() for _ in range(mines)]
        plan += [receipts_body(s) for s in receipt_batches]
        plan += [_body("eth_getTransactionReceipt", [hashes[-1] if hashes else "0x" + "00" * 32])] * receipts
    return plan, standin


def _timed(fc: FloorChain, plan: list[bytes]) -> tuple[float, int]:
    """Post the plan between a snapshot and a revert (the chain is back where it was)."""
    snap = fc.rpc.call("evm_snapshot")
    post = fc.rpc.post
    errors = 0
    t = now()
    for body in plan:
        if b'"error"' in post(body):
            errors += 1
    elapsed = now() - t
    if not fc.rpc.call("evm_revert", [snap]):
        raise RuntimeError("evm_revert failed after a floor plan")
    return elapsed, errors


def unit_costs(fc: FloorChain, repeats: int = 200) -> dict[str, float]:
    """Median ms of single operations on this node (cf. shared/docs/node-costs.md)."""
    out: dict[str, float] = {}
    bn = _body("eth_blockNumber", [])
    for name, bodies in (("eth_blockNumber", [bn] * repeats), ("eth_call balanceOf", [fc.call_body] * repeats)):
        samples = []
        for body in bodies:
            t = now()
            fc.rpc.post(body)
            samples.append(now() - t)
        out[name] = round(median(samples) * 1000, 4)
    send, mine, both = [], [], []
    for _ in range(repeats // 2):
        tx, _h = fc.tx_body()
        mb = fc.mine_body()
        t0 = now()
        fc.rpc.post(tx)
        t1 = now()
        fc.rpc.post(mb)
        t2 = now()
        send.append(t1 - t0)
        mine.append(t2 - t1)
        both.append(t2 - t0)
    out["eth_sendRawTransaction (pre-signed)"] = round(median(send) * 1000, 4)
    out["evm_mine (1 tx)"] = round(median(mine) * 1000, 4)
    out["send + mine"] = round(median(both) * 1000, 4)
    return out


def _timed_units(fc: FloorChain) -> dict[str, Any]:
    """Unit costs at the start height, and evm_mine's cost after as many blocks as a run mines."""
    snap = fc.rpc.call("evm_snapshot")
    try:
        out: dict[str, Any] = unit_costs(fc)
    finally:
        fc.rpc.call("evm_revert", [snap])
    return out


def mine_cost_by_height(fc: FloorChain, blocks: int, step: int, sample: int = 50) -> list[dict[str, float]]:
    """evm_mine (with one transfer) cost as the chain grows, from the current height."""
    snap = fc.rpc.call("evm_snapshot")
    rows = []
    try:
        mined = 0
        while mined <= blocks:
            samples = []
            for _ in range(sample):
                fc.rpc.post(fc.tx_body()[0])
                t = now()
                fc.rpc.post(fc.mine_body())
                samples.append(now() - t)
            rows.append({"blocks_mined": mined, "evm_mine_ms": round(median(samples) * 1000, 3)})
            mined += sample
            filler = min(step - sample, blocks - mined + 1)
            for _ in range(max(0, filler)):
                fc.rpc.post(fc.tx_body()[0])
                fc.rpc.post(fc.mine_body())
            mined += max(0, filler)
    finally:
        fc.rpc.call("evm_revert", [snap])
    return rows


def measure_floor(url: str, summary: dict[str, Any], cycles: int, repeats: int) -> dict[str, Any]:
    rpc_calls = {m: v["total"] for m, v in summary["rpc_calls"].items()}
    posts = {label: v["total"] for label, v in summary["rpc_round_trips"].items()}
    ops = {
        "eth_call": rpc_calls.get("eth_call", 0),
        "transactions": rpc_calls.get("eth_sendRawTransaction", 0),
        "mines": rpc_calls.get("evm_mine", 0),
    }
    batch_sizes: dict[str, list[int]] = {}
    for label, by_size in summary.get("batch_sizes", {}).items():
        sizes = [int(size) for size, n in by_size.items() for _ in range(n)]
        random.Random(0).shuffle(sizes)  # spread the sizes over the cycles, deterministically
        batch_sizes[label] = sizes
    fc = FloorChain(url)
    try:
        start_block = int(fc.rpc.call("eth_blockNumber"), 16)
        base = fc.mark()
        plan = _ops_plan(fc, ops, cycles)
        fc.rewind(base)
        rplan, standin = _requests_plan(fc, posts, batch_sizes, cycles)
        fc.rewind(base)
        ops_times, req_times = [], []
        errors = 0
        for _ in range(max(1, repeats)):
            dt, e = _timed(fc, plan)
            ops_times.append(dt)
            errors += e
            dt, e = _timed(fc, rplan)
            req_times.append(dt)
            errors += e
        units = _timed_units(fc)
        by_height = mine_cost_by_height(fc, ops["mines"], 500)
        ops_requests = len(plan)
        req_requests = len(rplan)
    finally:
        fc.close()
    return {
        "cycles": cycles,
        "ops_per_run": ops,
        "ops_floor_requests_per_cycle": round(ops_requests / cycles, 3),
        "ops_floor_ms_per_cycle": round(median(ops_times) / cycles * 1000, 4),
        "ops_floor_seconds_all": [round(x, 4) for x in ops_times],
        "requests_floor_requests_per_cycle": round(req_requests / cycles, 3),
        "requests_floor_ms_per_cycle": round(median(req_times) / cycles * 1000, 4),
        "requests_floor_seconds_all": [round(x, 4) for x in req_times],
        "requests_floor_standins": dict(standin),
        "error_replies": errors,
        "start_block": start_block,
        "unit_costs_ms": units,
        "evm_mine_by_height": by_height,
    }
