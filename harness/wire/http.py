"""The server side of the little HTTP/1.1 the proxy speaks: one POST in, one answer out.

Hand-rolled on sockets instead of `http.server` because the proxy sits on every node round
trip of a run: the standard library's header parsing (email.parser) costs more than the
proxy's whole budget. Only what JSON-RPC over HTTP uses is handled: `Content-Length`
request bodies. The proxy's side towards the node is the runner's own client
(`runner.chain.http.KeepAliveConnection`), the one every local node is spoken to with.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO

from runner.chain.http import MAX_LINE, HttpProtocolError, read_headers

_REASONS = {200: "OK", 400: "Bad Request", 413: "Payload Too Large", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True, slots=True)
class Request:
    path: bytes
    body: bytes
    keep_alive: bool


def read_request(rfile: BinaryIO) -> Request | None:
    """The next request on a kept-alive connection; None when the client closed it."""
    line = rfile.readline(MAX_LINE + 1)
    if not line:
        return None
    parts = line.split()
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise HttpProtocolError(f"malformed request line {line[:80]!r}")
    headers = read_headers(rfile)
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        raise HttpProtocolError("chunked request bodies are not supported")
    length = int(headers.get(b"content-length", b"0"))
    body = rfile.read(length) if length else b""
    if len(body) != length:
        raise HttpProtocolError("connection closed inside the body")
    conn = headers.get(b"connection", b"").lower()
    keep_alive = conn != b"close" if parts[2] == b"HTTP/1.1" else conn == b"keep-alive"
    return Request(parts[1], body, keep_alive)


def response_bytes(status: int, body: bytes, *, extra: bytes = b"", content_length: int | None = None) -> bytes:
    """A complete answer; `content_length` may announce more than `body` (a truncated answer)."""
    length = len(body) if content_length is None else content_length
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n").encode()
    return head + extra + b"\r\n" + body


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed peer or a load balancer does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


__all__ = ["Request", "read_request", "reset", "response_bytes"]
