"""--profile: one reference run per backend under pyinstrument.

Writes bench/results/profile-<backend>.html (the interactive tree) and
profile-<backend>.txt: where the time went by area, the top 25 functions by self time
and by inclusive time, and pyinstrument's condensed call tree.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.clock import now

AREAS = (
    ("/runner/chain/", "runner.chain (backends, JSON-RPC client, signing)"),
    ("/runner/state/", "runner.state (state, serialization, store)"),
    ("/runner/", "runner (tick, models, strategy, accounting)"),
    ("/harness/", "harness (engine, world, events, proxies)"),
    ("/freezegun/", "freezegun (freeze_time per instant)"),
    ("/eth/", "py-evm"),
    ("/trie/", "py-evm"),
    ("/eth_tester/", "eth-tester"),
    ("http/client", "HTTP transport (http.client, socket)"),
    ("/email/", "HTTP transport (http.client, socket)"),
    ("/py_ecc/", "imports (py_ecc, importlib)"),
    ("importlib", "imports (py_ecc, importlib)"),
    ("socket.py", "HTTP transport (http.client, socket)"),
    ("<built-in>", "built-ins (I/O waits, C calls)"),
    ("/json/", "json"),
    ("/eth_abi/", "ABI encoding (eth_abi, rlp, eth_utils, hashing)"),
    ("/rlp/", "ABI encoding (eth_abi, rlp, eth_utils, hashing)"),
    ("/eth_utils/", "ABI encoding (eth_abi, rlp, eth_utils, hashing)"),
    ("/eth_hash/", "ABI encoding (eth_abi, rlp, eth_utils, hashing)"),
    ("/msgspec/", "msgspec"),
    ("decimal", "decimal"),
)


def _area(path: str, function: str = "") -> str:
    if function.startswith("socket.") or function in ("select", "poll"):
        return "waiting on the node (socket send/recv)"
    for needle, area in AREAS:
        if needle in path:
            return area
    return "other (stdlib, libraries)"


def summarize(root: Any, top: int = 25) -> tuple[str, dict[str, Any]]:
    self_time: dict[tuple[str, str, int], float] = defaultdict(float)
    incl_time: dict[tuple[str, str, int], float] = defaultdict(float)
    calls_area: dict[str, float] = defaultdict(float)

    def real(frame: Any) -> Any:
        # pyinstrument books a function's own time on a synthetic "[self]" child
        while frame.parent is not None and (frame.is_synthetic or (frame.function or "").startswith("[")):
            frame = frame.parent
        return frame

    def key(frame: Any) -> tuple[str, str, int]:
        frame = real(frame)
        return (frame.function or "?", frame.file_path_short or frame.file_path or "?", frame.line_no or 0)

    def walk(frame: Any, on_path: set[tuple[str, str, int]]) -> None:
        k = key(frame)
        own = frame.time - sum(c.time for c in frame.children)
        self_time[k] += own
        calls_area[_area(real(frame).file_path or "", real(frame).function or "")] += own
        if k not in on_path and not frame.is_synthetic:
            incl_time[k] += frame.time
            on_path = on_path | {k}
        for child in frame.children:
            walk(child, on_path)

    walk(root, set())
    total = root.time or 1.0
    lines = [f"total {total:.3f} s", "", "time by area (self time):"]
    for area, t in sorted(calls_area.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {t:8.3f} s {100 * t / total:5.1f}%  {area}")
    lines += ["", f"top {top} functions by self time:"]
    ranked_self = sorted(self_time.items(), key=lambda kv: -kv[1])[:top]
    for (fn, path, line), t in ranked_self:
        lines.append(f"  {t:8.3f} s {100 * t / total:5.1f}%  {fn}  {path}:{line}")
    lines += ["", f"top {top} functions by inclusive time (below ScenarioRun.run):"]
    skip = {"<module>", "run", "_run", "run_profiled", "main", "_run_module_as_main", "_run_code"}
    ranked_incl = [(k, t) for k, t in sorted(incl_time.items(), key=lambda kv: -kv[1]) if k[0] not in skip][:top]
    for (fn, path, line), t in ranked_incl:
        lines.append(f"  {t:8.3f} s {100 * t / total:5.1f}%  {fn}  {path}:{line}")
    data = {
        "total_s": round(total, 3),
        "by_area_s": {a: round(t, 3) for a, t in sorted(calls_area.items(), key=lambda kv: -kv[1])},
        "top_self": [{"function": k[0], "where": f"{k[1]}:{k[2]}", "s": round(t, 3)} for k, t in ranked_self],
        "top_inclusive": [{"function": k[0], "where": f"{k[1]}:{k[2]}", "s": round(t, 3)} for k, t in ranked_incl],
    }
    return "\n".join(lines), data


def profile_backend(backend: str, scenario_path: Path, out_dir: Path, interval: float | None = None,
                    log: Any = print) -> dict[str, Any]:
    from pyinstrument import Profiler

    from harness.accounts import Accounts
    from harness.chains import ChainPool, world_spec
    from harness.engine import ScenarioRun
    from harness.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    pool = ChainPool()
    try:
        pool.world(backend, world_spec(scenario), Accounts.for_investors(scenario.investors))  # deploy, unprofiled
        # eth-tester runs for minutes: a coarser interval keeps the session small
        profiler = Profiler(interval=interval or (0.01 if backend == "eth-tester" else 0.002))
        run = ScenarioRun(scenario, backend=backend, pool=pool)
        t = now()
        profiler.start()
        try:
            result = run.run()
        finally:
            profiler.stop()
        wall = now() - t
    finally:
        pool.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"profile-{backend}.html"
    html_path.write_text(profiler.output_html())  # pyinstrument resamples long sessions itself
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    text, data = summarize(root)
    tree = profiler.output_text(color=False, unicode=False, show_all=False)
    txt_path = out_dir / f"profile-{backend}.txt"
    txt_path.write_text(f"profile of {scenario.name} on {backend} (wall {wall:.2f} s under the profiler, "
                        f"error={result.error})\n\n{text}\n\ncall tree:\n{tree}")
    log(f"  wrote {html_path.relative_to(out_dir.parent.parent)} and {txt_path.name}")
    return {"backend": backend, "wall_s_under_profiler": round(wall, 2), "html": str(html_path),
            "text": str(txt_path), "summary_text": text, **data}
