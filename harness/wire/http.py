"""The little HTTP/1.1 the proxy speaks: one POST in, one answer out, keep-alive both ways.

Hand-rolled on sockets instead of `http.server` and `http.client` because the proxy sits
on every node round trip of a run: the standard library's header parsing (email.parser)
costs more than the proxy's whole budget. Only what JSON-RPC over HTTP uses is handled:
`Content-Length` request bodies, and `Content-Length` or chunked answers from the node.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

MAX_LINE = 65536
MAX_HEADERS = 100
_REASONS = {200: "OK", 400: "Bad Request", 413: "Payload Too Large", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class HttpProtocolError(ConnectionError):
    """The peer sent something that is not the HTTP this proxy speaks."""


@dataclass(frozen=True, slots=True)
class Request:
    path: bytes
    body: bytes
    keep_alive: bool


def _read_headers(rfile: BinaryIO) -> dict[bytes, bytes]:
    headers: dict[bytes, bytes] = {}
    for _ in range(MAX_HEADERS + 1):
        line = rfile.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise HttpProtocolError("connection closed inside the headers")
        if len(line) > MAX_LINE:
            raise HttpProtocolError("header line too long")
        name, sep, value = line.partition(b":")
        if not sep:
            raise HttpProtocolError(f"malformed header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    raise HttpProtocolError("too many headers")


def read_request(rfile: BinaryIO) -> Request | None:
    """The next request on a kept-alive connection; None when the client closed it."""
    line = rfile.readline(MAX_LINE + 1)
    if not line:
        return None
    parts = line.split()
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise HttpProtocolError(f"malformed request line {line[:80]!r}")
    headers = _read_headers(rfile)
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


class Upstream:
    """One kept-alive connection to the node; reconnects when the node closed it."""

    def __init__(self, url: str, timeout: float) -> None:  # float-ok: seconds
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._rfile: BinaryIO | None = None
        self.retarget(url)

    def retarget(self, url: str) -> None:
        """Speak to the node at `url` from the next request on (closes the connection)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the wire proxy forwards to a plain-HTTP node, found {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = (parts.path or "/").encode() + (b"?" + parts.query.encode() if parts.query else b"")
        self._prefix = (b"POST " + self.path + b" HTTP/1.1\r\nHost: " + f"{self.host}:{self.port}".encode()
                        + b"\r\nContent-Type: application/json\r\nContent-Length: ")
        self.close()

    def _connect(self) -> tuple[socket.socket, BinaryIO]:
        if self._sock is None or self._rfile is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock, self._rfile = sock, sock.makefile("rb")
        return self._sock, self._rfile

    def post(self, body: bytes) -> tuple[int, bytes]:
        """POST a JSON-RPC body; (status, answer body). Raises OSError if the node is gone."""
        sock, rfile = self._connect()
        try:
            sock.sendall(self._prefix + str(len(body)).encode() + b"\r\n\r\n" + body)
            line = rfile.readline(MAX_LINE + 1)
            if not line:
                raise HttpProtocolError("the node closed the connection without answering")
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
                raise HttpProtocolError(f"malformed status line {line[:80]!r}")
            status = int(parts[1])
            headers = _read_headers(rfile)
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                data = self._read_chunked(rfile)
            else:
                length = int(headers.get(b"content-length", b"0"))
                data = rfile.read(length)
                if len(data) != length:
                    raise HttpProtocolError("the node closed the connection inside the body")
            if headers.get(b"connection", b"").lower() == b"close":
                self.close()
            return status, data
        except (OSError, ValueError):
            self.close()
            raise

    @staticmethod
    def _read_chunked(rfile: BinaryIO) -> bytes:
        out = bytearray()
        while True:
            size = int(rfile.readline(MAX_LINE + 1).split(b";")[0].strip(), 16)
            if size == 0:
                _read_headers(rfile)  # trailers
                return bytes(out)
            out += rfile.read(size)
            rfile.readline(MAX_LINE + 1)

    def interrupt(self) -> None:
        """Wake a thread blocked on this connection (stop() while the node is slow to answer)."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._rfile is not None:
            self._rfile.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._rfile = None


__all__ = ["HttpProtocolError", "Request", "Upstream", "read_request", "reset", "response_bytes"]
