"""Counting and timing probes, attached to live objects from the outside.

Nothing in runner/ or harness/ is edited: the probe shadows methods with instance
attributes on the objects a run uses (the innermost chain backend, its JSON-RPC client,
the ScenarioRun), and removes them afterwards. Every count is attributed to the phase the
run is in when it happens:

    world   ChainPool.world (revert to the deployed world, nonce sync, new snapshot)
    event   timeline events (harness transactions: deposits, price shocks, ...)
    tick    the runner's tick (the trading cycle proper)
    engine  everything else in ScenarioRun._run (freeze_time, journal, expectations)

A probe costs a dict update and two clock reads per call (about 1 us against 200 us for
the cheapest node round trip), so runs are timed with the probe attached.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from bench.clock import now

BACKEND_METHODS = (
    "block_number", "block_timestamp", "block_hash", "call", "call_many", "send_raw_transaction",
    "mine", "get_receipt", "get_logs", "get_nonce", "get_eth_balance", "pending_transactions",
    "drop_transaction", "snapshot", "revert", "set_next_timestamp", "remember_gas_limit",
    "set_eth_balance",
)
PHASES = ("world", "event", "tick", "engine")


class Probe:
    def __init__(self) -> None:
        self.phase = "engine"
        self.phase_time: dict[str, float] = defaultdict(float)
        # backend level: outermost calls only (AnvilBackend.mine calls block_number itself)
        self.backend_ops: Counter[tuple[str, str]] = Counter()
        self.backend_time: dict[str, float] = defaultdict(float)
        self.call_many_members: Counter[str] = Counter()
        # JSON-RPC level: HTTP round trips by label, and JSON-RPC calls (batch members too)
        self.rpc_posts: Counter[tuple[str, str]] = Counter()
        self.rpc_calls: Counter[tuple[str, str]] = Counter()
        self.rpc_time: dict[str, float] = defaultdict(float)
        self.rpc_time_by_label: dict[str, float] = defaultdict(float)
        self.batch_sizes: Counter[tuple[str, int]] = Counter()  # (label, members) -> posts
        self.saves = 0
        self.save_time = 0.0
        self.save_bytes = 0
        self._depth = 0
        self._label = "?"
        self._undo: list[Callable[[], None]] = []

    # -- attaching -----------------------------------------------------------
    def _shadow(self, obj: Any, name: str, wrapper: Any) -> None:
        had = name in vars(obj)
        old = vars(obj).get(name)
        setattr(obj, name, wrapper)

        def undo() -> None:
            if had:
                setattr(obj, name, old)
            else:
                with suppress(AttributeError):
                    delattr(obj, name)

        self._undo.append(undo)

    def attach_backend(self, backend: Any) -> None:
        for name in BACKEND_METHODS:
            if callable(getattr(type(backend), name, None)):
                self._shadow(backend, name, self._backend_wrapper(name, getattr(backend, name)))
        rpc = getattr(backend, "rpc", None)
        if rpc is not None:
            self.attach_rpc(rpc)

    def _backend_wrapper(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            t = now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.backend_time[self.phase] += now() - t
                self.backend_ops[(self.phase, name)] += 1
                if name == "call_many" and args:
                    self.call_many_members[self.phase] += len(args[0])
                self._depth -= 1

        return wrapper

    def attach_rpc(self, rpc: Any) -> None:
        request, batch, post = rpc.request, rpc.batch, rpc._post

        def req(method: str, params: Any = ()) -> Any:
            self.rpc_calls[(self.phase, method)] += 1
            self._label = method
            return request(method, params)

        def bat(requests: Any) -> Any:
            methods = [m for m, _ in requests]
            for m in methods:
                self.rpc_calls[(self.phase, m)] += 1
            kinds = sorted(set(methods))
            self._label = f"batch[{'+'.join(kinds)}]"
            if requests:
                self.batch_sizes[(self._label, len(requests))] += 1
            return batch(requests)

        def pst(body: bytes, method: str) -> Any:
            label = self._label
            self.rpc_posts[(self.phase, label)] += 1
            t = now()
            try:
                return post(body, method)
            finally:
                dt = now() - t
                self.rpc_time[self.phase] += dt
                self.rpc_time_by_label[label] += dt

        self._shadow(rpc, "request", req)
        self._shadow(rpc, "batch", bat)
        self._shadow(rpc, "_post", pst)

    def attach_run(self, run: Any) -> None:
        """Phase attribution on a ScenarioRun (and its pool's `world`)."""
        # The engine's per-instant driver (`harness.engine._Driver`) is made inside `run()`:
        # its methods are wrapped on the class for the probe's lifetime (detach restores them).
        driver = getattr(sys.modules.get(type(run).__module__), "_Driver", None)
        for name, phase in (("_tick", "tick"), ("_event", "event")):
            if callable(getattr(run, name, None)):
                self._shadow(run, name, self._phase_wrapper(phase, getattr(run, name)))
            elif driver is not None and callable(vars(driver).get(name)):
                self._shadow(driver, name, self._phase_wrapper(phase, vars(driver)[name]))
        pool = getattr(run, "pool", None)
        if pool is not None and callable(getattr(pool, "world", None)):
            self._shadow(pool, "world", self._phase_wrapper("world", pool.world))

    def _phase_wrapper(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outer = self.phase
            self.phase = phase
            t = now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.phase_time[phase] += now() - t
                self.phase = outer

        return wrapper

    @contextmanager
    def timing_saves(self) -> Iterator[None]:
        """Time every state store's save (class-level patches, restored on exit)."""

        def on_save(store: Any, state: Any, dt: float) -> None:
            self.saves += 1
            self.save_time += dt
            written = getattr(store, "bytes_written", None)
            if written is None:
                with suppress(OSError, AttributeError):
                    self.save_bytes += store.path.stat().st_size
            else:
                self.save_bytes += written - self._written.get(id(store), 0)
                self._written[id(store)] = written

        self._written: dict[int, int] = {}
        with patched_saves(on_save):
            yield

    def detach(self) -> None:
        while self._undo:
            self._undo.pop()()

    # -- reading -------------------------------------------------------------
    def summary(self, cycles: int, total_s: float) -> dict[str, Any]:
        per = 1.0 / cycles
        phases = {p: self.phase_time.get(p, 0.0) for p in ("world", "event", "tick")}
        phases["engine"] = max(0.0, total_s - sum(phases.values()))

        def by_method(counter: Counter[tuple[str, str]]) -> dict[str, Any]:
            total: Counter[str] = Counter()
            for (_phase, m), n in counter.items():
                total[m] += n
            return {m: {"total": n, "per_cycle": round(n * per, 3),
                        "by_phase": {p: counter[(p, m)] for p in PHASES if counter[(p, m)]}}
                    for m, n in total.most_common()}

        rpc_posts_total = sum(self.rpc_posts.values())
        return {
            "phase_ms_per_cycle": {p: round(v * 1000 * per, 3) for p, v in phases.items()},
            "backend_ms_per_cycle": {p: round(v * 1000 * per, 3) for p, v in self.backend_time.items()},
            "backend_ms_per_cycle_total": round(sum(self.backend_time.values()) * 1000 * per, 3),
            "backend_ops": by_method(self.backend_ops),
            "backend_ops_per_cycle": round(sum(self.backend_ops.values()) * per, 3),
            "backend_call_many_members": sum(self.call_many_members.values()),
            "rpc_round_trips": by_method(self.rpc_posts),
            "rpc_round_trips_per_cycle": round(rpc_posts_total * per, 3),
            "rpc_round_trips_per_cycle_by_phase": {
                p: round(sum(n for (ph, _m), n in self.rpc_posts.items() if ph == p) * per, 3)
                for p in PHASES},
            "rpc_calls": by_method(self.rpc_calls),
            "rpc_ms_per_cycle": round(sum(self.rpc_time.values()) * 1000 * per, 3),
            "rpc_ms_per_cycle_by_phase": {p: round(v * 1000 * per, 3) for p, v in self.rpc_time.items()},
            "rpc_ms_per_round_trip_by_method": {
                m: round(v * 1000 / n, 4) for m, v in self.rpc_time_by_label.items()
                if (n := sum(c for (_p, lb), c in self.rpc_posts.items() if lb == m))},
            "batch_sizes": {label: {str(size): n for (lb, size), n in sorted(self.batch_sizes.items()) if lb == label}
                            for label in sorted({lb for lb, _s in self.batch_sizes})},
            "state_saves_per_cycle": round(self.saves * per, 3),
            "state_save_ms_per_cycle": round(self.save_time * 1000 * per, 3),
            "state_save_mean_kb_written": round(self.save_bytes / self.saves / 1024, 1) if self.saves else 0,
        }


def store_classes() -> list[type]:
    """StateStore and every subclass loaded now that defines its own `save`."""
    import runner.state  # noqa: F401 - loads the stores the engine uses
    from runner.state.store import StateStore

    out, todo = [], [StateStore]
    while todo:
        cls = todo.pop()
        if "save" in vars(cls):
            out.append(cls)
        todo.extend(cls.__subclasses__())
    return out


@contextmanager
def patched_saves(on_save: Callable[[Any, Any, float], None]) -> Iterator[None]:
    """Call on_save(store, state, seconds) after each outermost save of any state store."""
    depth = [0]
    originals = [(cls, vars(cls)["save"]) for cls in store_classes()]

    def make(original: Callable[..., None]) -> Callable[..., None]:
        def save(store: Any, state: Any) -> None:
            if depth[0]:
                original(store, state)
                return
            depth[0] += 1
            t = now()
            try:
                original(store, state)
            finally:
                depth[0] -= 1
                on_save(store, state, now() - t)

        return save

    for cls, original in originals:
        cls.save = make(original)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for cls, original in originals:
            cls.save = original  # type: ignore[attr-defined]


def operations_per_cycle(summary: dict[str, Any], cycles: int) -> dict[str, float]:
    """The node work of one cycle: eth_calls (batch members count one each),
    transactions, mined blocks and JSON-RPC round trips."""

    def total(section: str, *names: str) -> int:
        return sum(summary[section].get(n, {}).get("total", 0) for n in names)

    if summary["rpc_calls"]:
        calls = total("rpc_calls", "eth_call")
        txs = total("rpc_calls", "eth_sendRawTransaction")
        mines = total("rpc_calls", "evm_mine")
        requests = sum(v["total"] for v in summary["rpc_round_trips"].values())
    else:
        calls = total("backend_ops", "call") + summary.get("backend_call_many_members", 0)
        txs = total("backend_ops", "send_raw_transaction")
        mines = total("backend_ops", "mine")
        requests = sum(v["total"] for v in summary["backend_ops"].values())
    return {
        "eth_call": round(calls / cycles, 3),
        "transactions": round(txs / cycles, 3),
        "mines": round(mines / cycles, 3),
        "requests": round(requests / cycles, 3),
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
