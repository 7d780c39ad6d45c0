"""A lagging replica: answers from a view N blocks behind the node's real head.

A load-balanced RPC sends each request to one of several nodes, and one of them may be a
few blocks behind. Its answers are internally consistent but stale: the head it reports,
the nonces, balances and call results at "latest" (and "pending", which on a replica is
at best its own latest), logs and receipts of the blocks it has. This module rewrites
one JSON-RPC request to what such a replica would be asked (block tags pinned to the
lagged head), answers locally what it can (a block beyond its head does not exist for
it), and filters the node's answers (a receipt mined after its head is not there yet).

Writes (eth_sendRawTransaction) and the node's development methods pass unchanged: the
load balancer sends them to a node that has them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# method -> position of its block parameter
_BLOCK_PARAM: dict[str, int] = {
    "eth_getTransactionCount": 1,
    "eth_getBalance": 1,
    "eth_getCode": 1,
    "eth_call": 1,
    "eth_getStorageAt": 2,
}
_HEAD_TAGS = ("latest", "pending", "safe", "finalized")
_MINED_FILTER = ("eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_getBlockByHash")
LAGGED_METHODS: frozenset[str] = frozenset({*_BLOCK_PARAM, *_MINED_FILTER, "eth_blockNumber", "eth_getBlockByNumber",
                                            "eth_getLogs"})
"""The JSON-RPC reads a lagging replica answers differently from the real node."""

HEADER_NOT_FOUND = {"code": -32000, "message": "header not found"}  # what geth says for a block it lacks


@dataclass(frozen=True)
class Rewritten:
    """One request as the replica handles it: forwarded (maybe changed), or answered here."""

    forward: dict[str, Any] | None  # the member to send to the node, None if answered locally
    local: dict[str, Any] | None = None  # the JSON-RPC reply when answered locally
    post: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # filters the node's reply


def _reply(req: dict[str, Any], result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req.get("id"), "result": result}


def _error(req: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req.get("id"), "error": dict(error)}


def _tag_number(tag: Any) -> int | None:
    """A block tag's number (None for a head tag or something else)."""
    if isinstance(tag, str) and tag.startswith("0x"):
        try:
            return int(tag, 16)
        except ValueError:
            return None
    return None


class LaggedView:
    """Rewrites requests and answers for a replica whose head is `head - blocks`.

    A load balancer sends some requests to the stale node and others to good ones:
    `targets` (JSON-RPC names; None for every lagged read) says which requests reach the
    replica, and `remaining` (None: until lifted) how many of them do, counted per HTTP
    request. So "one stale nonce read" is `LaggedView(1, {"eth_getTransactionCount"}, 1)`.
    """

    def __init__(self, blocks: int, targets: frozenset[str] | None = None, remaining: int | None = None) -> None:
        if blocks < 0:
            raise ValueError(f"lag must be a number of blocks >= 0, found {blocks}")
        if targets is not None and not targets <= LAGGED_METHODS:
            raise ValueError(f"a lagging replica answers {sorted(targets - LAGGED_METHODS)} like the node does; "
                             f"lagged reads: {', '.join(sorted(LAGGED_METHODS))}")
        if remaining is not None and remaining < 0:
            raise ValueError(f"calls must be >= 0, found {remaining}")
        self.blocks = blocks
        self.targets = targets
        self.remaining = remaining

    def applies(self, member: Any) -> bool:
        """Whether the replica answers this JSON-RPC request differently from the node."""
        if not isinstance(member, dict):
            return False
        method = member.get("method")
        return method in LAGGED_METHODS and (self.targets is None or method in self.targets)

    def take(self, req: Any) -> bool:
        """Whether this request (or batch) goes to the replica; consumes one of `remaining`."""
        members = req if isinstance(req, list) else [req]
        if self.remaining == 0 or not any(self.applies(m) for m in members):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def rewrite(self, req: dict[str, Any], head: int) -> Rewritten:
        """What the replica does with one JSON-RPC request when the real head is `head`."""
        if not self.applies(req):
            return Rewritten(req)
        lagged = max(0, head - self.blocks)
        method = req.get("method")
        params = list(req.get("params") or [])
        if method == "eth_blockNumber":
            return Rewritten(None, _reply(req, hex(lagged)))
        if method in _BLOCK_PARAM:
            pos = _BLOCK_PARAM[method]
            tag = params[pos] if len(params) > pos else "latest"
            if isinstance(tag, dict):  # EIP-1898 {blockNumber} / {blockHash}
                number = _tag_number(tag.get("blockNumber"))
                if number is not None and number > lagged:
                    return Rewritten(None, _error(req, HEADER_NOT_FOUND))
                return Rewritten(req)
            number = _tag_number(tag)
            if number is not None and number > lagged:
                return Rewritten(None, _error(req, HEADER_NOT_FOUND))
            if tag in _HEAD_TAGS:
                params += [None] * (pos + 1 - len(params))
                params[pos] = hex(lagged)
                return Rewritten({**req, "params": params})
            return Rewritten(req)
        if method == "eth_getBlockByNumber" and params:
            number = _tag_number(params[0])
            if number is not None and number > lagged:
                return Rewritten(None, _reply(req, None))  # a block it does not have yet
            if params[0] in _HEAD_TAGS:
                return Rewritten({**req, "params": [hex(lagged), *params[1:]]})
            return Rewritten(req)
        if method == "eth_getLogs" and params and isinstance(params[0], dict):
            return self._logs(req, params, lagged)
        if method in _MINED_FILTER:
            return Rewritten(req, post=lambda reply: self._hide_newer(reply, lagged))
        return Rewritten(req)

    @staticmethod
    def _logs(req: dict[str, Any], params: list[Any], lagged: int) -> Rewritten:
        flt = dict(params[0])
        if "blockHash" in flt:
            return Rewritten(req, post=lambda reply: LaggedView._logs_up_to(reply, lagged))
        start = flt.get("fromBlock", "latest")
        end = flt.get("toBlock", "latest")
        start_n = lagged if start in _HEAD_TAGS else _tag_number(start)
        end_n = lagged if end in _HEAD_TAGS else _tag_number(end)
        if start_n is not None and start_n > lagged:
            return Rewritten(None, _reply(req, []))  # the whole range is beyond its head
        if end_n is not None:
            flt["toBlock"] = hex(min(end_n, lagged))  # silently fewer logs, as a stale node gives
        if start in _HEAD_TAGS:
            flt["fromBlock"] = hex(lagged)
        return Rewritten({**req, "params": [flt, *params[1:]]})

    @staticmethod
    def _logs_up_to(reply: dict[str, Any], lagged: int) -> dict[str, Any]:
        logs = reply.get("result")
        if not isinstance(logs, list):
            return reply
        kept = [e for e in logs if not (isinstance(e, dict) and (_tag_number(e.get("blockNumber")) or 0) > lagged)]
        return {**reply, "result": kept}

    @staticmethod
    def _hide_newer(reply: dict[str, Any], lagged: int) -> dict[str, Any]:
        """A receipt, transaction or block mined after the replica's head: not there yet."""
        result = reply.get("result")
        if isinstance(result, dict):
            number = _tag_number(result.get("blockNumber") or result.get("number"))
            if number is not None and number > lagged:
                return {**reply, "result": None}
        return reply


__all__ = ["HEADER_NOT_FOUND", "LAGGED_METHODS", "LaggedView", "Rewritten"]
