"""The wire proxy: a real HTTP server on 127.0.0.1 between the runner and its node.

    runner -> JsonRpcClient -> [WireProxy 127.0.0.1:port] -> anvil

It forwards JSON-RPC (single and batch) over one kept-alive upstream connection per
client connection, and on command breaks the transport the way real networks and load
balancers do (see `harness.wire.faults`), or answers from a lagging replica's view (see
`harness.wire.lag`). The runner's own client then meets real resets, real socket
timeouts and real truncated bodies instead of exceptions raised by a Python object.

Control (from the harness thread; requests are served on daemon threads):
    arm(fault, calls=N, method=...)   the next N matching requests get `fault`
    disarm() -> unused                 stop it; how many were not used
    schedule(seed, rates) / unschedule()   seeded random faults per faultable request
    lag(blocks) / unlag()              answer reads from `blocks` behind the real head
    stats() / log                      counters and the injected-fault log: deterministic
                                       text (request numbers, methods, kinds), no times

With nothing armed, scheduled or lagged a request is forwarded as bytes without being
parsed. Everything stops by itself: `stop()` (or leaving the `with` block) closes the
listener and every connection, wakes held and delayed answers and joins every thread.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from harness.wire.faults import ArmedFault, DuplicateAnswer, FaultSchedule, WireFault
from harness.wire.http import read_request, reset, response_bytes
from harness.wire.lag import LaggedView
from harness.wire.methods import rpc_targets
from runner.chain.http import HttpProtocolError, KeepAliveConnection
from runner.chain.methods import NodeMethod

JOIN_DEADLINE = 5.0  # float-ok: seconds a thread gets to finish after stop()


class WireProxyError(RuntimeError):
    """The proxy could not start or stop cleanly (a thread that would not finish)."""


@dataclass(frozen=True)
class WireStats:
    """What the proxy did, as counts only (comparable across runs)."""

    requests: int  # HTTP requests received from clients
    forwarded: int  # HTTP requests sent to the node (duplicates and head look-ups included)
    faults: int  # faults injected
    by_kind: Mapping[str, int]  # WireFault -> injected, every kind present
    lagged: int  # JSON-RPC answers a lagging view changed or gave itself


@dataclass(frozen=True)
class _Plan:
    fault: WireFault | None
    answer: DuplicateAnswer


class _Answer:
    """The outcome of forwarding: an HTTP status and body for the client."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body


INJECTED_ERROR = {"code": -32603, "message": "internal error (injected)"}


def _rpc_errors(decoded: Any) -> bytes:
    """An error answer for each request of a single or batch request, ids kept."""
    def one(req: Any) -> dict[str, Any]:
        rid = req.get("id") if isinstance(req, dict) else None
        return {"jsonrpc": "2.0", "id": rid, "error": INJECTED_ERROR}
    return json.dumps([one(r) for r in decoded] if isinstance(decoded, list) else one(decoded)).encode()


class WireProxy:
    """A fault-injecting JSON-RPC proxy on 127.0.0.1 in front of `upstream` (a node URL).

    `hold` bounds how long a `timeout` fault holds an answer when the client does not
    give up first; `slow` is the delay of a `slow` answer and must stay under the
    client's timeout; `upstream_timeout` bounds every wait for the node.
    """

    def __init__(self, upstream: str, *, hold: float = 30.0, slow: float = 0.05,  # float-ok: seconds
                 upstream_timeout: float = 30.0) -> None:  # float-ok: seconds
        KeepAliveConnection(upstream, upstream_timeout)  # validates the URL now, not on first request
        self.upstream = upstream
        self.hold = hold
        self.slow_delay = slow
        self.upstream_timeout = upstream_timeout
        self.log: list[str] = []
        self._lock = threading.Lock()
        self._injected = threading.Condition(self._lock)  # notified on every injected fault
        self._stop = threading.Event()
        self._armed: ArmedFault | None = None
        self._schedule: FaultSchedule | None = None
        self._lag: LaggedView | None = None
        self._active = False  # anything to do beyond forwarding bytes
        self._requests = 0
        self._forwarded = 0
        self._lagged = 0
        self._by_kind: Counter[WireFault] = Counter()
        self._listener: socket.socket | None = None
        self._threads: set[threading.Thread] = set()
        self._conns: set[socket.socket] = set()
        self._upstreams: set[KeepAliveConnection] = set()
        self._acceptor: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # -- life ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._listener is None:
            raise WireProxyError("the wire proxy is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> WireProxy:
        """Listen on a free loopback port and serve until `stop()`."""
        if self._listener is not None:
            raise WireProxyError("the wire proxy is already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop.clear()
        self._acceptor = threading.Thread(target=self._accept, name=f"wire-proxy-{self.port}", daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection, wake held answers, join every thread."""
        self._stop.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            conns, threads, upstreams = list(self._conns), list(self._threads), list(self._upstreams)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for up in upstreams:
            up.interrupt()
        stuck = []
        for t in [self._acceptor, *threads]:
            if t is not None:
                t.join(JOIN_DEADLINE)
                if t.is_alive():
                    stuck.append(t.name)
        self._acceptor = None
        with self._lock:
            upstreams = list(self._upstreams)
            self._upstreams.clear()
        for up in upstreams:
            up.close()
        if stuck:
            raise WireProxyError(f"wire proxy threads did not finish within {JOIN_DEADLINE}s: {stuck}")

    def __enter__(self) -> WireProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def retarget(self, upstream: str) -> None:
        """Forward to another node from now on (a restarted node on a new port)."""
        KeepAliveConnection(upstream, self.upstream_timeout)
        with self._lock:
            self.upstream = upstream
            upstreams = list(self._upstreams)
        for up in upstreams:
            up.retarget(upstream)  # each connection reconnects to the new URL on its next request

    # -- control -------------------------------------------------------------------
    def arm(self, fault: WireFault | str, calls: int = 1, method: NodeMethod | str | None = None, *,
            answer: DuplicateAnswer | str = DuplicateAnswer.first) -> None:
        """The next `calls` requests carrying `method` (a NodeMethod or a JSON-RPC name;
        None: any of the runner's requests) get `fault`. Replaces an armed fault."""
        if calls < 0:
            raise ValueError(f"calls must be >= 0, found {calls}")
        armed = ArmedFault(WireFault(fault), calls, rpc_targets(method), DuplicateAnswer(answer))
        with self._lock:
            self._armed = armed
            self._refresh()

    def disarm(self) -> int:
        """Stop the armed fault; returns how many of its requests were not hit."""
        with self._lock:
            left = self._armed.remaining if self._armed is not None else 0
            self._armed = None
            self._refresh()
        return left

    def schedule(self, seed: int, rates: Mapping[WireFault | str, float]) -> None:  # float-ok: probabilities
        """Random faults from `seed`: each faultable request gets fault k with rates[k]."""
        sched = FaultSchedule(seed, {WireFault(k): v for k, v in rates.items()})
        with self._lock:
            self._schedule = sched
            self._refresh()

    def unschedule(self) -> None:
        with self._lock:
            self._schedule = None
            self._refresh()

    def lag(self, blocks: int, method: NodeMethod | str | None = None, calls: int | None = None) -> None:
        """Answer reads as a replica `blocks` behind the node's real head does.

        `method` (a NodeMethod or a JSON-RPC name; None: every lagged read) and `calls`
        (None: until `unlag()`) say which requests the load balancer sends to the stale
        node: `lag(1, "get_nonce", calls=1)` is one stale nonce read."""
        targets = rpc_targets(method)
        view = LaggedView(blocks, targets, calls)
        with self._lock:
            self._lag = view
            self._refresh()

    def unlag(self) -> None:
        with self._lock:
            self._lag = None
            self._refresh()

    @contextmanager
    def lagging(self, blocks: int, method: NodeMethod | str | None = None,
                calls: int | None = None) -> Iterator[None]:
        """`lag(...)` for the duration of a `with` block (the runner's steps, say)."""
        self.lag(blocks, method, calls)
        try:
            yield
        finally:
            self.unlag()

    def _refresh(self) -> None:
        self._active = self._armed is not None or self._schedule is not None or self._lag is not None

    def wait_faults(self, count: int, timeout: float) -> bool:  # float-ok: seconds
        """Block until `count` faults have been injected in all (or `timeout` passes).

        For a test that must act while a fault is in progress (a held answer, say): a
        fault is counted before it is carried out, so this returns while it happens."""
        with self._injected:
            return self._injected.wait_for(lambda: sum(self._by_kind.values()) >= count, timeout)

    def stats(self) -> WireStats:
        with self._lock:
            return WireStats(
                requests=self._requests, forwarded=self._forwarded, faults=sum(self._by_kind.values()),
                by_kind={str(k): self._by_kind[k] for k in WireFault}, lagged=self._lagged,
            )

    # -- serving -------------------------------------------------------------------
    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stop.is_set():
            try:
                conn, _addr = listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=self._serve, args=(conn,), name=f"wire-conn-{self.port}", daemon=True)
            with self._lock:
                if self._stop.is_set():
                    conn.close()
                    return
                self._conns.add(conn)
                self._threads.add(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            upstream = KeepAliveConnection(self.upstream, self.upstream_timeout)
            self._upstreams.add(upstream)
        rfile = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                try:
                    req = read_request(rfile)
                except (OSError, HttpProtocolError, ValueError):
                    return
                if req is None:
                    return
                if not self._handle(conn, upstream, req.body) or not req.keep_alive:
                    return
        finally:
            rfile.close()
            with suppress(OSError):
                conn.close()
            upstream.close()
            with self._lock:
                self._conns.discard(conn)
                self._upstreams.discard(upstream)
                self._threads.discard(threading.current_thread())

    def _handle(self, conn: socket.socket, upstream: KeepAliveConnection, body: bytes) -> bool:
        """Answer one request; False when the connection must end (a fault closed it)."""
        with self._lock:
            self._requests += 1
            number = self._requests
            active = self._active
        if not active:  # the fast path: bytes in, bytes out
            answer = self._forward_raw(upstream, body)
            return self._send(conn, response_bytes(answer.status, answer.body))
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        members = decoded if isinstance(decoded, list) else [decoded]
        methods = frozenset(m["method"] for m in members if isinstance(m, dict) and isinstance(m.get("method"), str))
        plan = self._plan(number, methods)
        fault = plan.fault
        if fault == WireFault.reset:
            reset(conn)
            return False
        if fault == WireFault.rpc_error:
            return self._send(conn, response_bytes(200, _rpc_errors(decoded)))
        if fault == WireFault.http_5xx:
            return self._send(conn, response_bytes(503, b'{"error":"service unavailable (injected)"}'))
        if fault == WireFault.http_429:
            return self._send(conn, response_bytes(429, b'{"error":"rate limited (injected)"}',
                                                   extra=b"Retry-After: 1\r\n"))
        answer = self._exchange(upstream, body, decoded)
        if fault == WireFault.duplicate_send:
            second = self._exchange(upstream, body, decoded)
            if plan.answer == DuplicateAnswer.second:
                answer = second
        if fault == WireFault.reset_after:
            reset(conn)
            return False
        if fault == WireFault.truncated:
            self._send(conn, response_bytes(answer.status, answer.body[: len(answer.body) // 2],
                                            content_length=len(answer.body)))
            return False
        if fault == WireFault.timeout:
            self._hold(conn)
            return False
        if fault == WireFault.slow:
            self._stop.wait(self.slow_delay)  # dst-ok: the delay is the fault; stop() cuts it short
        return self._send(conn, response_bytes(answer.status, answer.body))

    def _plan(self, number: int, methods: frozenset[str]) -> _Plan:
        with self._lock:
            armed, sched = self._armed, self._schedule
            fault: WireFault | None = None
            answer = DuplicateAnswer.first
            if armed is not None and armed.take(methods):
                fault, answer = armed.fault, armed.answer
            elif sched is not None:
                fault = sched.draw(methods)
            if fault is not None:
                self._by_kind[fault] += 1
                self._injected.notify_all()
                detail = f" ({answer} answer returned)" if fault == WireFault.duplicate_send else ""
                self.log.append(f"#{number} {'+'.join(sorted(methods)) or '?'}: {fault}{detail}")
            return _Plan(fault, answer)

    def _hold(self, conn: socket.socket) -> None:
        """Keep the answer from the client until it gives up (closes), `hold` ends or stop()."""
        try:
            conn.settimeout(self.hold)
            while conn.recv(65536):  # the client closes after its own timeout: recv gives b""
                pass
        except OSError:
            pass  # the hold ran out, or stop() shut the socket

    def _send(self, conn: socket.socket, data: bytes) -> bool:
        try:
            conn.sendall(data)
            return True
        except OSError:
            return False

    def _forward_raw(self, upstream: KeepAliveConnection, body: bytes) -> _Answer:
        with self._lock:
            self._forwarded += 1
        try:
            status, data = upstream.post(body)
        except (OSError, HttpProtocolError, ValueError) as exc:
            msg = json.dumps({"error": f"the node is unreachable: {type(exc).__name__}: {exc}"})
            return _Answer(502, msg.encode())
        return _Answer(status, data)

    def _exchange(self, upstream: KeepAliveConnection, body: bytes, decoded: Any) -> _Answer:
        """Forward one request as the current view answers it (lagged or not)."""
        view = self._lag
        if view is None or decoded is None:
            return self._forward_raw(upstream, body)
        with self._lock:
            lagged = view.take(decoded)
        if not lagged:
            return self._forward_raw(upstream, body)
        head_answer = self._forward_raw(upstream, b'{"jsonrpc":"2.0","id":0,"method":"eth_blockNumber","params":[]}')
        try:
            head = int(json.loads(head_answer.body)["result"], 16)
        except (ValueError, KeyError, TypeError):
            return head_answer if head_answer.status != 200 else _Answer(502, b'{"error":"no head from the node"}')
        batch = isinstance(decoded, list)
        members = decoded if batch else [decoded]
        plans = [view.rewrite(m, head) if isinstance(m, dict) else None for m in members]
        forward = [p.forward if p is not None else m for p, m in zip(plans, members, strict=True)
                   if p is None or p.forward is not None]
        replies: dict[Any, dict[str, Any]] = {}
        if forward:
            answer = self._forward_raw(upstream, json.dumps(forward if batch else forward[0]).encode())
            if answer.status != 200:
                return answer
            try:
                got = json.loads(answer.body)
            except ValueError:
                return answer
            for r in got if isinstance(got, list) else [got]:
                if isinstance(r, dict):
                    replies[r.get("id")] = r
        out = []
        changed = 0
        for p, m in zip(plans, members, strict=True):
            if p is not None and p.local is not None:
                out.append(p.local)
                changed += 1
                continue
            reply = replies.get(m.get("id") if isinstance(m, dict) else None)
            if reply is None:
                continue
            if p is not None and p.post is not None:
                filtered = p.post(reply)
                changed += filtered is not reply
                reply = filtered
            elif p is not None and p.forward is not m:
                changed += 1
            out.append(reply)
        with self._lock:
            self._lagged += changed
        return _Answer(200, json.dumps(out if batch else (out[0] if out else {})).encode())


__all__ = ["WireProxy", "WireProxyError", "WireStats"]
