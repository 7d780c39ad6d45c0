"""JSON-RPC to a remote node through web3.py's HTTP provider.

For URLs off this machine: HTTPS with certificate checks, `user:password@` credentials,
API keys in the query string and the provider's session handling are web3.py's (and
requests') job, done as every Ethereum tool does them. web3's own retry-with-backoff is
turned off: which requests may be retried is the runner's policy
(`runner.chain.retry`), the same on every transport.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from web3 import HTTPProvider

from runner.chain.errors import NodeError, NodeTimeout
from runner.chain.rpc import RpcFault


def _fault(method: str, reply: Any) -> RpcFault | None:
    err = reply.get("error") if isinstance(reply, dict) else None
    if err is None:
        return None
    if not isinstance(err, dict):
        return RpcFault(method, str(err), None, None)
    return RpcFault(method, str(err.get("message")), err.get("code"), err.get("data"))


class Web3RpcClient:
    """The `RpcTransport` of a remote node."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:  # float-ok: seconds
        self.url = url
        self.timeout = timeout
        self.calls = 0
        self._provider = HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)

    def _send(self, method: str, send: Any) -> Any:
        self.calls += 1
        try:
            return send()
        except requests.Timeout as exc:
            raise NodeTimeout(method, f"no answer within {self.timeout}s") from exc
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise NodeError(method, f"HTTP {status} from {self._where()}") from exc
        except requests.RequestException as exc:
            raise NodeError(method, f"cannot reach {self._where()}: {type(exc).__name__}") from exc

    def _where(self) -> str:
        """The node's address without credentials or query (API keys stay out of logs)."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        host = parts.hostname or "?"
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "") + parts.path

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        reply = self._send(method, lambda: self._provider.make_request(method, list(params)))  # type: ignore[arg-type]
        fault = _fault(method, reply)
        if fault is not None:
            raise fault
        return reply["result"]

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several requests in one round trip; errors come back in place as `RpcFault`."""
        if not requests_:
            return []
        batch = [(m, list(p)) for m, p in requests_]
        replies = self._send(requests_[0][0], lambda: self._provider.make_batch_request(batch))  # type: ignore[arg-type]
        if not isinstance(replies, list):  # the node refused the whole batch
            raise _fault(requests_[0][0], replies) or NodeError(requests_[0][0], "malformed batch reply")
        out: list[Any] = []
        for (method, _), reply in zip(requests_, replies, strict=True):
            fault = _fault(method, reply)
            out.append(fault if fault is not None else reply["result"])
        return out

    def close(self) -> None:
        """Nothing to hold: requests' session pools its own connections."""


__all__ = ["Web3RpcClient"]
