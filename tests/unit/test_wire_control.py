"""The wire proxy's control API, schedule and lagged view, without a node.

A tiny JSON-RPC server on loopback plays the node: it counts what it received and
answers a fixed head, so the proxy's decisions can be checked exactly and fast.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import harness.wire as wire
from harness.wire import (
    FAULTABLE_RPC,
    NODE_METHODS,
    RPC_METHODS,
    DuplicateAnswer,
    FaultSchedule,
    LaggedView,
    WireFault,
    WireProxy,
    rpc_targets,
)
from harness.wire.lag import HEADER_NOT_FOUND
from runner.chain.errors import NodeError, NodeTimeout
from runner.chain.methods import FAULTABLE, NodeMethod
from runner.chain.rpc import HttpStatusError, JsonRpcClient

HEAD = 100


class FakeNode:
    """Answers eth_blockNumber with HEAD and echoes every other request's method and params."""

    def __init__(self) -> None:
        self.received: list[str] = []
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = [node.answer(r) for r in body] if isinstance(body, list) else node.answer(body)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                # The proxy under test may have dropped this connection already (its reset
                # and timeout faults): the stub's answer then has nowhere to go, which is
                # not an error of the stub's to print to the run's output.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, req: dict[str, Any]) -> dict[str, Any]:
        method, params = req["method"], req.get("params", [])
        self.received.append(method)
        if method == "eth_blockNumber":
            result: Any = hex(HEAD)
        elif method == "eth_getTransactionReceipt":
            result = {"blockNumber": params[0][:4], "status": "0x1"}  # the hash says where it was mined
        else:
            result = {"method": method, "params": params}
        return {"jsonrpc": "2.0", "id": req["id"], "result": result}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def node() -> Iterator[FakeNode]:
    """A fake JSON-RPC node on loopback, stopped after the test."""
    n = FakeNode()
    yield n
    n.close()


@pytest.fixture
def proxy(node: FakeNode) -> Iterator[WireProxy]:
    """A wire proxy in front of the fake node; a timeout is held at most 5 s."""
    with WireProxy(node.url, hold=5.0, slow=0.01) as p:
        yield p


def client(proxy: WireProxy, timeout: float = 2.0) -> JsonRpcClient:  # float-ok: seconds
    return JsonRpcClient(proxy.url, timeout)


class TestExports:
    def test_all_is_the_public_names(self) -> None:
        """Everything public in harness.wire is exported, sorted, and nothing else."""
        # isidentifier: assertion rewriting adds "@py_builtins" when harness is rewritten
        public = sorted(n for n in vars(wire) if n.isidentifier() and not n.startswith("_") and n not in {
            "annotations", "faults", "http", "lag", "methods", "proxy"})
        assert sorted(wire.__all__) == public


class TestMethodTable:
    def test_every_node_method_has_an_entry(self) -> None:
        """The table covers every NodeMethod, and every runner request maps to a faultable call."""
        assert set(RPC_METHODS) == set(NodeMethod)
        assert all(RPC_METHODS[m] and RPC_METHODS[m][0] in FAULTABLE_RPC for m in FAULTABLE
                   if m != NodeMethod.pending_transactions)
        assert not {"evm_mine", "evm_snapshot", "evm_revert", "eth_sendTransaction"} & FAULTABLE_RPC

    def test_reverse_table(self) -> None:
        """eth_call carries call and call_many; a secondary request carries no NodeMethod."""
        assert NODE_METHODS["eth_call"] == (NodeMethod.call, NodeMethod.call_many)
        assert NODE_METHODS["eth_getTransactionByHash"] == (NodeMethod.pending_among,)
        assert NODE_METHODS["anvil_dropAllTransactions"] == ()

    def test_targets(self) -> None:
        """A NodeMethod hits its carrying request; a JSON-RPC name hits itself; harness requests never."""
        assert rpc_targets(NodeMethod.get_nonce) == {"eth_getTransactionCount"}
        assert rpc_targets("get_receipt") == {"eth_getTransactionReceipt"}
        assert rpc_targets("eth_getLogs") == {"eth_getLogs"}
        assert rpc_targets(None) is None
        with pytest.raises(ValueError, match="never faulted"):
            rpc_targets(NodeMethod.mine)
        with pytest.raises(ValueError, match="neither"):
            rpc_targets("evm_mine")


class TestSchedule:
    METHODS = [frozenset({"eth_call"}), frozenset({"eth_sendRawTransaction"}), frozenset({"evm_mine"}),
               frozenset({"eth_getTransactionReceipt"})] * 50

    def _run(self, seed: int) -> list[WireFault | None]:
        sched = FaultSchedule(seed, {WireFault.reset: 0.2, WireFault.duplicate_send: 0.2, WireFault.http_429: 0.1})
        return [sched.draw(m) for m in self.METHODS]

    def test_same_seed_same_faults(self) -> None:
        """The same seed and the same request sequence give the same faults; another seed others."""
        assert self._run(7) == self._run(7)
        assert self._run(7) != self._run(8)

    def test_only_faultable_requests_draw_and_duplicates_hit_sends_only(self) -> None:
        """Mining never draws (nor shifts the sequence); a duplicate lands on broadcasts only."""
        drawn = self._run(7)
        assert all(f is None for f, m in zip(drawn, self.METHODS, strict=True) if "evm_mine" in m)
        dups = [m for f, m in zip(drawn, self.METHODS, strict=True) if f == WireFault.duplicate_send]
        assert dups and all(m == {"eth_sendRawTransaction"} for m in dups)
        assert {WireFault.reset, WireFault.http_429} <= set(drawn)

    def test_rates_are_probabilities(self) -> None:
        """Rates outside [0, 1] or adding up to more than 1 are refused."""
        with pytest.raises(ValueError, match="probabilities"):
            FaultSchedule(1, {WireFault.reset: 1.5})
        with pytest.raises(ValueError, match="add up"):
            FaultSchedule(1, {WireFault.reset: 0.6, WireFault.slow: 0.6})


class TestLaggedView:
    def test_head_tags_are_pinned_to_the_lagged_head(self) -> None:
        """latest and pending become the replica's head; the block number is answered locally."""
        view = LaggedView(3)
        nonce = view.rewrite({"id": 1, "method": "eth_getTransactionCount", "params": ["0xab", "pending"]}, HEAD)
        assert nonce.forward is not None and nonce.forward["params"] == ["0xab", hex(HEAD - 3)]
        call = view.rewrite({"id": 2, "method": "eth_call", "params": [{"to": "0x1"}]}, HEAD)
        assert call.forward is not None and call.forward["params"] == [{"to": "0x1"}, hex(HEAD - 3)]
        number = view.rewrite({"id": 3, "method": "eth_blockNumber", "params": []}, HEAD)
        assert number.forward is None and number.local == {"jsonrpc": "2.0", "id": 3, "result": hex(HEAD - 3)}

    def test_blocks_beyond_its_head_do_not_exist(self) -> None:
        """A state read past the replica's head is 'header not found'; a block is null."""
        view = LaggedView(3)
        bal = view.rewrite({"id": 1, "method": "eth_getBalance", "params": ["0xab", hex(HEAD)]}, HEAD)
        assert bal.local is not None and bal.local["error"] == HEADER_NOT_FOUND
        blk = view.rewrite({"id": 2, "method": "eth_getBlockByNumber", "params": [hex(HEAD - 1), False]}, HEAD)
        assert blk.local is not None and blk.local["result"] is None
        old = view.rewrite({"id": 3, "method": "eth_getBalance", "params": ["0xab", hex(HEAD - 3)]}, HEAD)
        assert old.forward is not None and old.forward["params"][1] == hex(HEAD - 3)

    def test_logs_are_clamped_and_receipts_hidden(self) -> None:
        """Logs stop at the replica's head; a receipt mined after it is null."""
        view = LaggedView(3)
        logs = view.rewrite({"id": 1, "method": "eth_getLogs", "params": [{"fromBlock": "0x1", "toBlock": hex(HEAD)}]},
                            HEAD)
        assert logs.forward is not None and logs.forward["params"][0]["toBlock"] == hex(HEAD - 3)
        beyond = view.rewrite({"id": 2, "method": "eth_getLogs", "params": [{"fromBlock": hex(HEAD - 1)}]}, HEAD)
        assert beyond.local is not None and beyond.local["result"] == []
        receipt = view.rewrite({"id": 3, "method": "eth_getTransactionReceipt", "params": ["0x01"]}, HEAD)
        assert receipt.post is not None
        assert receipt.post({"id": 3, "result": {"blockNumber": hex(HEAD - 2)}})["result"] is None
        assert receipt.post({"id": 3, "result": {"blockNumber": hex(HEAD - 3)}})["result"] is not None

    def test_targets_and_calls_limit_what_reaches_the_replica(self) -> None:
        """lag(1, eth_getTransactionCount, 1): one stale nonce read, then the real node again."""
        view = LaggedView(1, frozenset({"eth_getTransactionCount"}), 1)
        nonce = {"id": 1, "method": "eth_getTransactionCount", "params": ["0xab", "pending"]}
        assert not view.take({"id": 2, "method": "eth_getBalance", "params": ["0xab", "latest"]})
        assert view.take(nonce) and not view.take(nonce)
        with pytest.raises(ValueError, match="like the node does"):
            LaggedView(1, frozenset({"eth_sendRawTransaction"}))


class TestProxyControl:
    def test_forwards_without_faults(self, proxy: WireProxy, node: FakeNode) -> None:
        """With nothing armed, single and batch requests reach the node and come back intact."""
        rpc = client(proxy)
        assert rpc.request("eth_getCode", ["0xab", "latest"]) == {"method": "eth_getCode", "params": ["0xab", "latest"]}
        assert rpc.batch([("eth_call", [{}, "latest"]), ("eth_blockNumber", [])])[1] == hex(HEAD)
        stats = proxy.stats()
        assert (stats.requests, stats.forwarded, stats.faults) == (2, 2, 0)
        assert node.received == ["eth_getCode", "eth_call", "eth_blockNumber"]

    def test_arm_hits_the_next_n_matching_requests_and_disarm_counts_the_rest(self, proxy: WireProxy) -> None:
        """A fault aimed at get_nonce skips other requests, hits two nonce reads, and one is left."""
        rpc = client(proxy)
        proxy.arm(WireFault.http_5xx, calls=3, method=NodeMethod.get_nonce)
        rpc.request("eth_getCode", ["0xab", "latest"])
        for _ in range(2):
            with pytest.raises(HttpStatusError) as info:
                rpc.request("eth_getTransactionCount", ["0xab", "pending"])
            assert info.value.status == 503
        assert proxy.disarm() == 1
        assert rpc.request("eth_getTransactionCount", ["0xab", "pending"])["method"] == "eth_getTransactionCount"
        assert proxy.log == ["#2 eth_getTransactionCount: http_5xx", "#3 eth_getTransactionCount: http_5xx"]
        assert proxy.stats().by_kind["http_5xx"] == 2 and proxy.stats().faults == 2

    def test_harness_requests_are_never_faulted(self, proxy: WireProxy, node: FakeNode) -> None:
        """evm_mine passes an armed 'any method' fault untouched; the next runner request takes it."""
        rpc = client(proxy)
        proxy.arm(WireFault.reset, calls=1)
        rpc.request("evm_mine", [1])
        with pytest.raises(NodeError, match="reset"):
            rpc.request("eth_call", [{}, "latest"])
        assert node.received == ["evm_mine"]  # a reset before forwarding: the node never saw it

    def test_reset_after_forwarding_reaches_the_node(self, proxy: WireProxy, node: FakeNode) -> None:
        """reset_after: the node got the request, the client got a reset."""
        rpc = client(proxy)
        proxy.arm(WireFault.reset_after, calls=1)
        with pytest.raises(NodeError):
            rpc.request("eth_call", [{}, "latest"])
        assert node.received == ["eth_call"]

    def test_timeout_is_a_real_socket_timeout(self, proxy: WireProxy, node: FakeNode) -> None:
        """The answer is held until the client gives up: NodeTimeout, and the node did get it."""
        rpc = client(proxy, timeout=0.2)
        proxy.arm(WireFault.timeout, calls=1)
        with pytest.raises(NodeTimeout):
            rpc.request("eth_call", [{}, "latest"])
        assert node.received == ["eth_call"]
        assert rpc.request("eth_blockNumber") == hex(HEAD)  # a new connection works at once

    def test_duplicate_send_forwards_twice(self, proxy: WireProxy, node: FakeNode) -> None:
        """A duplicated broadcast reaches the node twice; other requests are not duplicated."""
        rpc = client(proxy)
        proxy.arm(WireFault.duplicate_send, calls=1, answer=DuplicateAnswer.second)
        rpc.request("eth_call", [{}, "latest"])
        rpc.request("eth_sendRawTransaction", ["0x01"])
        assert node.received == ["eth_call", "eth_sendRawTransaction", "eth_sendRawTransaction"]
        assert proxy.log == ["#2 eth_sendRawTransaction: duplicate_send (second answer returned)"]

    def test_schedule_is_deterministic_through_the_proxy(self, node: FakeNode) -> None:
        """Two proxies with the same seed fault the same requests of the same sequence."""
        logs = []
        for _ in range(2):
            with WireProxy(node.url, hold=5.0) as p:
                p.schedule(11, {WireFault.http_429: 0.3, WireFault.reset: 0.2})
                rpc = client(p)
                for i in range(40):
                    with contextlib.suppress(NodeError):
                        rpc.request("eth_getBalance", [hex(i), "latest"])
                logs.append(list(p.log))
        assert logs[0] == logs[1] and len(logs[0]) > 5
        assert all(re.fullmatch(r"#\d+ eth_getBalance: (http_429|reset)", line) for line in logs[0])

    def test_lag_through_the_proxy(self, proxy: WireProxy) -> None:
        """A lagged proxy reports a stale head and pins tags; unlag restores the real answers."""
        rpc = client(proxy)
        proxy.lag(4)
        assert rpc.request("eth_blockNumber") == hex(HEAD - 4)
        assert rpc.request("eth_getBalance", ["0xab", "latest"])["params"] == ["0xab", hex(HEAD - 4)]
        assert rpc.request("eth_getTransactionReceipt", [hex(HEAD - 1)]) is None
        proxy.unlag()
        assert rpc.request("eth_blockNumber") == hex(HEAD)
        assert proxy.stats().lagged == 3

    def test_stop_wakes_a_held_answer_and_joins(self, node: FakeNode) -> None:
        """stop() during a held timeout ends the hold and every thread (no wait for `hold`)."""
        p = WireProxy(node.url, hold=60.0).start()
        rpc = client(p, timeout=30.0)
        p.arm(WireFault.timeout, calls=1)
        done = threading.Event()
        seen: list[BaseException] = []

        def call() -> None:
            try:
                rpc.request("eth_call", [{}, "latest"])
            except NodeError as exc:
                seen.append(exc)
            done.set()

        t = threading.Thread(target=call, daemon=True)
        t.start()
        assert p.wait_faults(1, timeout=10)  # counted before the hold begins
        p.stop()
        assert done.wait(10) and seen and isinstance(seen[0], NodeError)
        assert not any(th.name.startswith(f"wire-conn-{p.port}") for th in threading.enumerate())
