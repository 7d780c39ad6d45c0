"""The little HTTP/1.1 client a local node is spoken to with: one POST, one answer, keep-alive.

Hand-rolled on a socket instead of `http.client` because it sits on every node round trip
of a run (the runner's JSON-RPC client and the harness's wire proxy both use it): the
standard library builds each request header by header and parses each answer's headers
with email.feedparser, 0.2 ms of CPU per round trip on this machine against the node's
own 0.1 ms. Only what JSON-RPC over plain HTTP uses is handled: a POST with a
`Content-Length` body, and a `Content-Length` or chunked answer.
"""

from __future__ import annotations

import base64
import contextlib
import socket
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

MAX_LINE = 65536
MAX_HEADERS = 100


class HttpProtocolError(ConnectionError):
    """The peer sent something that is not the HTTP spoken here."""


class TruncatedAnswer(HttpProtocolError):
    """The node closed the connection before the body its headers announced was complete."""

    def __init__(self, got: int, expected: int) -> None:
        super().__init__(f"the node closed the connection inside the body: {got} of {expected} bytes")
        self.got, self.expected = got, expected


def read_headers(rfile: BinaryIO) -> dict[bytes, bytes]:
    """The header block up to its blank line, names lower-cased."""
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


class KeepAliveConnection:
    """One kept-alive connection to a plain-HTTP node; reconnects after it was closed.

    Errors are the socket's (`OSError`, `TimeoutError` past `timeout`) and
    `HttpProtocolError`; any of them closes the connection. What they mean for a request
    (resend or not) is the caller's call: nothing is resent here.
    """

    def __init__(self, url: str, timeout: float) -> None:  # float-ok: seconds
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._rfile: BinaryIO | None = None
        self.retarget(url)

    def retarget(self, url: str) -> None:
        """Speak to the node at `url` from the next request on (closes the connection)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"a plain-HTTP node URL is needed here, found scheme {parts.scheme!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        path = (parts.path or "/").encode() + (b"?" + parts.query.encode() if parts.query else b"")
        auth = b""
        if parts.username is not None:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            auth = b"\r\nAuthorization: Basic " + base64.b64encode(token)
        # the whole head but its length, built once: a request is one sendall
        self._prefix = (b"POST " + path + b" HTTP/1.1\r\nHost: " + f"{self.host}:{self.port}".encode() + auth
                        + b"\r\nContent-Type: application/json\r\nContent-Length: ")
        self.close()

    def connect(self) -> socket.socket:
        if self.sock is None or self._rfile is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock, self._rfile = sock, sock.makefile("rb")
        return self.sock

    def post(self, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body; (status, answer body)."""
        sock = self.connect()
        rfile = self._rfile
        assert rfile is not None
        try:
            sock.sendall(self._prefix + str(len(body)).encode() + b"\r\n\r\n" + body)
            line = rfile.readline(MAX_LINE + 1)
            if not line:
                raise HttpProtocolError("the node closed the connection without answering")
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
                raise HttpProtocolError(f"malformed status line {line[:80]!r}")
            status = int(parts[1])
            headers = read_headers(rfile)
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                data = self._read_chunked(rfile)
            else:
                length = int(headers.get(b"content-length", b"0"))
                data = rfile.read(length)
                if len(data) != length:
                    raise TruncatedAnswer(len(data), length)
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
                read_headers(rfile)  # trailers
                return bytes(out)
            chunk = rfile.read(size)
            if len(chunk) != size:
                raise TruncatedAnswer(len(out) + len(chunk), len(out) + size)
            out += chunk
            rfile.readline(MAX_LINE + 1)

    def interrupt(self) -> None:
        """Wake a thread blocked on this connection (a proxy stopping while the node is slow)."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._rfile is not None:
            self._rfile.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self._rfile = None


__all__ = ["HttpProtocolError", "KeepAliveConnection", "TruncatedAnswer", "read_headers"]
