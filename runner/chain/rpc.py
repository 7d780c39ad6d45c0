"""JSON-RPC transports: the fast raw client for local nodes, web3.py for remote ones.

web3.py's HTTPProvider costs about 3 ms a call on this machine against 0.2-0.3 ms for
the raw round trip (shared/docs/node-costs.md), so a node on this machine (loopback,
plain HTTP) is spoken to directly: one keep-alive connection, pre-encoded bodies,
batches where useful. A remote node (a real fork's upstream, `harness repair` against
a production RPC) goes through web3.py, where HTTPS, credentials, query-string API keys
and provider behaviour matter more than the microseconds. `open_rpc` picks.
"""

from __future__ import annotations

import ipaddress
import json
import select
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from runner.chain.errors import NodeError, NodeTimeout
from runner.chain.http import KeepAliveConnection, TruncatedAnswer


class RpcFault(NodeError):
    """The node answered with a JSON-RPC error object (carries its `data`)."""

    def __init__(self, method: str, message: str, code: int | None, data: Any) -> None:
        super().__init__(method, message, code)
        self.data = data


class RpcTransport(Protocol):
    """What a node backend needs of a JSON-RPC connection."""

    url: str
    timeout: float  # float-ok: seconds
    calls: int

    def request(self, method: str, params: Sequence[Any] = ()) -> Any: ...

    def batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]: ...

    def close(self) -> None: ...


def is_loopback(url: str) -> bool:
    """A plain-HTTP URL of a node on this machine (127.0.0.0/8, ::1, localhost)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def open_rpc(url: str, timeout: float = 30.0) -> RpcTransport:  # float-ok: seconds
    """The transport for `url`: the raw keep-alive client on loopback, web3.py elsewhere."""
    if is_loopback(url):
        return JsonRpcClient(url, timeout)
    from runner.chain.web3rpc import Web3RpcClient  # web3 is imported only for remote nodes

    return Web3RpcClient(url, timeout)


def redact_url(url: str) -> str:
    """`url` as it may be printed: scheme, host and port only. Credentials (`user:pass@`),
    API keys in the path (`/v3/KEY`, `/v2/KEY`) and the query never reach a message."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "<an RPC URL>"
    if not parts.scheme or host is None:
        return "<an RPC URL>"
    hidden = parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "") + ("/..." if hidden else "")


class HttpStatusError(NodeError):
    """The node (or a load balancer in front of it) answered HTTP `status`, not 200.

    429 and 5xx come from rate limiters and gateways: most likely not carried out, but
    nothing guarantees it, so it is a `NodeError` like any other (retried for reads).
    """

    def __init__(self, method: str, status: int, body: bytes) -> None:
        super().__init__(method, f"HTTP {status}: {body[:200]!r}")
        self.status = status


class JsonRpcClient:
    """Sequential JSON-RPC over a kept-alive connection.

    Every failure is a `NodeError`: a reset, a refused connection, a truncated or
    malformed answer; no answer within `timeout` is a `NodeTimeout`, an HTTP status other
    than 200 an `HttpStatusError`. Nothing is resent here: whether a request whose answer
    was lost may be asked again is the retry policy's call (`runner.chain.retry`). A
    connection the node closed while idle is replaced before the request is sent.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:  # float-ok: seconds
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"{redact_url(url)}: the raw client speaks plain HTTP only; open_rpc() picks web3.py for "
                             f"{parts.scheme}")
        self.url = url
        self.timeout = timeout
        self._http = KeepAliveConnection(url, timeout)
        self._idle: select.poll | None = None  # polls the kept-alive socket between requests
        self._next_id = 0
        self.calls = 0  # requests sent, for the benchmark's floor comparison

    def _connection(self) -> KeepAliveConnection:
        """The kept-alive connection, replaced first if the node closed it while idle.

        Between requests an open connection has nothing to read: polling readable means
        the node closed it (or sent garbage). One zero-timeout poll before each request
        replaces the old resend-after-failure, which repeated requests whose answer was
        lost after the node had carried them out (a broadcast sent twice, unseen by the
        retry policy, came back as "already imported" and was taken for a rejection).
        """
        http = self._http
        if http.sock is not None and (self._idle is None or self._idle.poll(0)):
            self.close()
        if http.sock is None:
            sock = http.connect()
            self._idle = select.poll()
            self._idle.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return http

    def _post(self, body: bytes, method: str) -> Any:
        self.calls += 1
        try:
            status, payload = self._connection().post(body)
        except TimeoutError as exc:
            self.close()
            raise NodeTimeout(method, f"no answer within {self.timeout}s") from exc
        except TruncatedAnswer as exc:
            self.close()
            raise NodeError(method, f"truncated answer: {exc.got} of {exc.expected} bytes") from exc
        except (OSError, ValueError) as exc:  # HttpProtocolError is a ConnectionError
            self.close()
            raise NodeError(method, f"cannot reach {redact_url(self.url)}: {type(exc).__name__}: {exc}") from exc
        if status != 200:
            raise HttpStatusError(method, status, payload)
        try:
            return json.loads(payload)
        except ValueError as exc:
            self.close()
            raise NodeError(method, f"malformed answer: {payload[:200]!r}") from exc

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        self._next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": list(params)})
        reply = self._post(body.encode(), method)
        if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
            raise NodeError(method, f"not a JSON-RPC answer: {str(reply)[:200]}")
        if "error" in reply:
            err = reply["error"] if isinstance(reply["error"], dict) else {"message": reply["error"]}
            raise RpcFault(method, str(err.get("message")), err.get("code"), err.get("data"))
        return reply["result"]

    def batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send several requests in one HTTP round trip; results in request order.

        Errors are returned in place as `RpcFault` instances, not raised, so one
        failing read does not hide the others.
        """
        if not requests:
            return []
        first = self._next_id + 1
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": list(p)}
            for i, (m, p) in enumerate(requests)
        ]
        self._next_id += len(requests)
        replies = self._post(json.dumps(body).encode(), requests[0][0])
        if not isinstance(replies, list):
            raise NodeError(requests[0][0], f"not an answer to a batch: {str(replies)[:200]}")
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        out: list[Any] = []
        for i, (method, _params) in enumerate(requests):
            r = by_id.get(first + i)
            if r is None or ("result" not in r and "error" not in r):
                raise NodeError(method, f"the batch answer lacks request {i + 1} of {len(requests)}")
            if "error" in r:
                e = r["error"]
                out.append(RpcFault(method, str(e.get("message")), e.get("code"), e.get("data")))
            else:
                out.append(r["result"])
        return out

    def close(self) -> None:
        self._idle = None
        self._http.close()
