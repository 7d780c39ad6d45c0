"""The raw JSON-RPC client turns every broken answer into a NodeError, and never resends.

A one-shot loopback server plays each broken node (garbage, a half batch, a refused
port, a connection closed while idle) so the client's error classes are pinned without
anvil; the wire proxy's faults are covered against anvil in tests/integration.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from runner.chain.errors import NodeError
from runner.chain.rpc import JsonRpcClient, RpcFault


class OneShot:
    """A loopback server: each accepted connection is handed to `handler` on a daemon thread."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.handler = handler
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.handler, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def answering(*bodies: bytes) -> Callable[[socket.socket], None]:
    """Answer each request on the connection with the next body (HTTP 200), then keep it open."""
    def handler(conn: socket.socket) -> None:
        f = conn.makefile("rb")
        for body in bodies:
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        f.read()  # until the client closes
        conn.close()
    return handler


@pytest.fixture
def serve() -> Iterator[Callable[..., OneShot]]:
    """Start OneShot servers for a test; all are closed after it."""
    started: list[OneShot] = []

    def start(handler: Callable[[socket.socket], None]) -> OneShot:
        started.append(OneShot(handler))
        return started[-1]

    yield start
    for s in started:
        s.close()


class TestBrokenAnswers:
    def test_malformed_json_is_a_node_error(self, serve: Callable[..., OneShot]) -> None:
        """A body that is not JSON (a proxy's HTML error page) is a NodeError, not a JSONDecodeError."""
        srv = serve(answering(b"<html>bad gateway</html>"))
        with pytest.raises(NodeError, match="malformed answer"):
            JsonRpcClient(f"http://127.0.0.1:{srv.port}", 2).request("eth_chainId")

    def test_an_object_without_result_is_a_node_error(self, serve: Callable[..., OneShot]) -> None:
        """JSON that is no JSON-RPC answer is a NodeError, not a KeyError."""
        srv = serve(answering(b'{"jsonrpc":"2.0","id":1}'))
        with pytest.raises(NodeError, match="not a JSON-RPC answer"):
            JsonRpcClient(f"http://127.0.0.1:{srv.port}", 2).request("eth_chainId")

    def test_a_batch_answer_missing_a_member_is_a_node_error(self, serve: Callable[..., OneShot]) -> None:
        """A batch answered for one request of two is a NodeError naming the missing one."""
        srv = serve(answering(b'[{"jsonrpc":"2.0","id":1,"result":"0x1"}]'))
        with pytest.raises(NodeError, match="request 2 of 2"):
            JsonRpcClient(f"http://127.0.0.1:{srv.port}", 2).batch([("eth_chainId", []), ("eth_blockNumber", [])])

    def test_an_error_object_stays_an_rpc_fault(self, serve: Callable[..., OneShot]) -> None:
        """The node's own error answer is still an RpcFault with its code."""
        srv = serve(answering(b'{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}'))
        with pytest.raises(RpcFault) as info:
            JsonRpcClient(f"http://127.0.0.1:{srv.port}", 2).request("eth_call")
        assert info.value.code == -32000

    def test_a_chunked_answer_is_read_whole(self, serve: Callable[..., OneShot]) -> None:
        """A node (or a proxy in front of it) may answer in chunks: the body is their join."""
        def chunked(conn: socket.socket) -> None:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"15\r\n{\"jsonrpc\":\"2.0\",\"id\"\r\n12\r\n:1,\"result\":\"0x7\"}\r\n0\r\n\r\n")
            conn.recv(65536)

        srv = serve(chunked)
        assert JsonRpcClient(f"http://127.0.0.1:{srv.port}", 2).request("eth_chainId") == "0x7"

    def test_a_truncated_answer_says_how_much_came(self, serve: Callable[..., OneShot]) -> None:
        """Closed inside the announced body: a NodeError with the bytes received and announced."""
        def truncated(conn: socket.socket) -> None:
            conn.recv(65536)
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{"jsonr')
            conn.close()

        srv = serve(truncated)
        with pytest.raises(NodeError, match="truncated answer: 7 of 40 bytes"):
            JsonRpcClient(f"http://127.0.0.1:{srv.port}", 2).request("eth_chainId")

    def test_refused_connection_is_a_node_error(self) -> None:
        """Nothing listening: a NodeError, not a raw ConnectionRefusedError."""
        s = socket.create_server(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with pytest.raises(NodeError, match="ConnectionRefusedError"):
            JsonRpcClient(f"http://127.0.0.1:{port}", 2).request("eth_chainId")


class TestNoResend:
    def test_a_reset_is_raised_not_resent(self, serve: Callable[..., OneShot]) -> None:
        """The connection dies after the request arrived: a NodeError, and no second connection."""
        def read_then_close(conn: socket.socket) -> None:
            conn.recv(65536)
            conn.close()

        srv = serve(read_then_close)
        with pytest.raises(NodeError, match="cannot reach"):
            JsonRpcClient(f"http://127.0.0.1:{srv.port}", 2).request("eth_sendRawTransaction", ["0x01"])
        assert srv.accepted == 1

    def test_a_connection_closed_while_idle_is_replaced_before_sending(self, serve: Callable[..., OneShot]) -> None:
        """The node closed the kept-alive connection between requests: the next one goes on a new one."""
        def one_answer_then_close(conn: socket.socket) -> None:
            f = conn.makefile("rb")
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)  # all of it: closing on unread bytes would send a reset, not a FIN
            body = b'{"jsonrpc":"2.0","id":1,"result":"0x2a"}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            f.close()
            conn.close()

        srv = serve(one_answer_then_close)
        rpc = JsonRpcClient(f"http://127.0.0.1:{srv.port}", 2)
        assert rpc.request("eth_chainId") == "0x2a"
        assert rpc._http.sock is not None
        rpc._http.sock.recv(1, socket.MSG_PEEK)  # blocks until the server's FIN has arrived
        rpc._next_id = 0
        assert rpc.request("eth_chainId") == "0x2a"
        assert srv.accepted == 2
