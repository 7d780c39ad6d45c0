"""The node's URL is honoured whole: scheme, credentials, path and query, on both transports.

A small JSON-RPC server on loopback records what each request carried; HTTPS uses a
self-signed certificate made for the test and trusted through REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.chain.errors import NodeError
from runner.chain.rpc import JsonRpcClient, RpcFault, is_loopback, open_rpc
from runner.chain.web3rpc import Web3RpcClient


@dataclass
class Seen:
    paths: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


def _answer(req: dict[str, Any]) -> dict[str, Any]:
    if req["method"] == "eth_chainId":
        return {"jsonrpc": "2.0", "id": req["id"], "result": "0x2a"}
    return {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32601, "message": "no such method"}}


def _server(seen: Seen, context: ssl.SSLContext | None = None, status: int = 200) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            seen.paths.append(self.path)
            seen.auth.append(self.headers.get("Authorization"))
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = [_answer(r) for r in body] if isinstance(body, list) else _answer(body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        srv.socket = context.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def plain() -> Iterator[tuple[http.server.ThreadingHTTPServer, Seen]]:
    seen = Seen()
    srv = _server(seen)
    yield srv, seen
    srv.shutdown()


BASIC = "Basic dXNlcjpwdw=="  # user:pw


class TestRawClient:
    def test_keeps_path_query_and_credentials(self, plain: tuple[http.server.ThreadingHTTPServer, Seen]) -> None:
        """user:pw@ becomes Basic auth and ?key= reaches the node (both were dropped before)."""
        srv, seen = plain
        rpc = JsonRpcClient(f"http://user:pw@127.0.0.1:{srv.server_port}/v1?key=abc")
        assert rpc.request("eth_chainId") == "0x2a"
        assert (seen.paths, seen.auth) == (["/v1?key=abc"], [BASIC])

    def test_refuses_https(self) -> None:
        """The raw client never talks plain HTTP to an https:// URL (it used port 80 before)."""
        with pytest.raises(ValueError, match="plain HTTP only"):
            JsonRpcClient("https://node.example/v1")


class TestWeb3Client:
    def test_keeps_path_query_and_credentials(self, plain: tuple[http.server.ThreadingHTTPServer, Seen]) -> None:
        """The same URL through web3.py: query and credentials arrive; errors stay errors."""
        srv, seen = plain
        rpc = Web3RpcClient(f"http://user:pw@127.0.0.1:{srv.server_port}/v1?key=abc")
        assert rpc.request("eth_chainId") == "0x2a"
        assert rpc.batch([("eth_chainId", []), ("nope", [])])[0] == "0x2a"
        with pytest.raises(RpcFault, match="no such method"):
            rpc.request("nope")
        assert seen.paths == ["/v1?key=abc"] * 3 and seen.auth == [BASIC] * 3

    def test_http_errors_are_node_errors_without_secrets(self) -> None:
        """A 503 is a NodeError naming the host, never the password or the API key."""
        seen = Seen()
        srv = _server(seen, status=503)
        try:
            rpc = Web3RpcClient(f"http://user:secret@127.0.0.1:{srv.server_port}/v1?key=abc123")
            with pytest.raises(NodeError) as info:
                rpc.request("eth_chainId")
        finally:
            srv.shutdown()
        assert "503" in str(info.value) and "secret" not in str(info.value) and "abc123" not in str(info.value)

    @pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
    def test_https_with_a_trusted_certificate(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """An https:// URL is spoken to over TLS, checking the node's certificate."""
        key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                        str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        seen = Seen()
        srv = _server(seen, context)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        try:
            url = f"https://user:pw@127.0.0.1:{srv.server_port}/v1?key=abc"
            rpc = open_rpc(url)
            assert isinstance(rpc, Web3RpcClient)
            assert rpc.request("eth_chainId") == "0x2a"
        finally:
            srv.shutdown()
        assert seen.paths == ["/v1?key=abc"] and seen.auth == [BASIC]


class TestChoice:
    @pytest.mark.parametrize("url,local", [
        ("http://127.0.0.1:8545", True), ("http://localhost:8545/", True), ("http://[::1]:8545", True),
        ("http://127.9.9.9:1", True), ("https://127.0.0.1:8545", False), ("http://10.0.0.5:8545", False),
        ("https://eth.example/v2/KEY", False),
    ])
    def test_loopback_plain_http_only_takes_the_fast_path(self, url: str, local: bool) -> None:
        """Only plain HTTP to this machine uses the raw client."""
        assert is_loopback(url) is local
