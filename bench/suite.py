"""4 + 6: the test suite's wall time, anvil start-up, import and CLI start-up times."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.clock import median, now

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
_SUMMARY = re.compile(r"^=*\s*(.*\d+ (passed|failed|error|errors|skipped).*?)\s*=*$")


def pytest_wall(workers: int, paths: tuple[str, ...] = ("tests", "scenarios"),
                timeout: float = 3600) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", str(workers), *paths]
    t = now()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"command": " ".join(cmd[1:]), "error": f"timed out after {timeout}s"}
    elapsed = now() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = next((m.group(1) for ln in reversed(lines) if (m := _SUMMARY.match(ln.strip()))),
                   lines[-1] if lines else "")
    return {"command": "pytest " + " ".join(cmd[3:]), "workers": workers, "seconds": round(elapsed, 2),
            "exit_code": proc.returncode, "summary": summary}


def anvil_startup(repeats: int = 5) -> dict[str, Any]:
    """AnvilNode() to the first JSON-RPC answer, then stop (stop timed separately)."""
    from harness.anvil_node import AnvilNode
    from harness.chains import GENESIS
    from runner.chain.rpc import JsonRpcClient

    starts, firsts, stops = [], [], []
    for _ in range(repeats):
        t0 = now()
        node = AnvilNode(genesis_timestamp=GENESIS)
        t1 = now()
        try:
            rpc = JsonRpcClient(node.url)
            rpc.request("eth_blockNumber")
            t2 = now()
            rpc.close()
        finally:
            t3 = now()
            node.stop()
            t4 = now()
        starts.append(t1 - t0)
        firsts.append(t2 - t0)
        stops.append(t4 - t3)
    return {
        "repeats": repeats,
        "start_to_listening_ms": round(median(starts) * 1000, 2),
        "start_to_first_answer_ms": round(median(firsts) * 1000, 2),
        "stop_ms": round(median(stops) * 1000, 2),
        "samples_first_answer_ms": [round(x * 1000, 2) for x in firsts],
    }


@contextmanager
def _hardfork(name: str) -> Iterator[None]:
    """Start AnvilNodes with `--hardfork name` instead of the harness's choice (bench only)."""
    import harness.anvil_node as an

    original = an.subprocess.Popen

    def popen(args: Any, **kwargs: Any) -> Any:
        args = list(args)
        if "--hardfork" in args:
            args[args.index("--hardfork") + 1] = name
        return original(args, **kwargs)

    an.subprocess.Popen = popen  # type: ignore[misc]
    try:
        yield
    finally:
        an.subprocess.Popen = original  # type: ignore[misc]


def mining_by_hardfork(blocks: int = 3000, step: int = 500) -> dict[str, Any]:
    """evm_mine cost against chain height on a fresh node, prague (the harness's) vs cancun."""
    from bench.floor import FloorChain, mine_cost_by_height
    from harness.anvil_node import AnvilNode
    from harness.chains import GENESIS

    out: dict[str, Any] = {}
    for fork in ("prague", "cancun"):
        with _hardfork(fork):
            node = AnvilNode(genesis_timestamp=GENESIS)
        try:
            fc = FloorChain(node.url)
            try:
                out[fork] = mine_cost_by_height(fc, blocks, step)
            finally:
                fc.close()
        finally:
            node.stop()
    return out


def _wall(cmd: list[str], repeats: int) -> dict[str, Any]:
    samples = []
    for _ in range(repeats):
        t = now()
        subprocess.run(cmd, cwd=REPO, capture_output=True, check=True)
        samples.append(now() - t)
    return {"ms": round(median(samples) * 1000, 1), "samples_ms": [round(x * 1000, 1) for x in samples]}


def import_times(repeats: int = 5) -> dict[str, Any]:
    py = sys.executable
    harness_cli = str(VENV_BIN / "harness")
    out: dict[str, Any] = {
        "python -c pass": _wall([py, "-c", "pass"], repeats),
        "import harness": _wall([py, "-c", "import harness"], repeats),
        "import harness.cli": _wall([py, "-c", "import harness.cli"], repeats),
        "import harness.engine": _wall([py, "-c", "import harness.engine"], repeats),
        "harness --help": _wall([harness_cli, "--help"], repeats),
    }
    out["top_imports_of_harness.engine"] = _importtime_top(py, "harness.engine")
    out["import_self_ms_by_package_harness.engine"] = _importtime_by_package(py, "harness.engine")
    return out


def _importtime_by_package(py: str, module: str, top: int = 12) -> list[dict[str, Any]]:
    """Self import time summed per top-level package (what `import module` really loads)."""
    proc = subprocess.run([py, "-X", "importtime", "-c", f"import {module}"], cwd=REPO,
                          capture_output=True, text=True)
    totals: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if m:
            pkg = m.group(3).split(".")[0]
            totals[pkg] = totals.get(pkg, 0) + int(m.group(1))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": k, "self_ms": round(v / 1000, 1)} for k, v in ranked]


def _importtime_top(py: str, module: str, top: int = 12) -> list[dict[str, Any]]:
    """Largest cumulative import times (-X importtime), outermost packages only."""
    proc = subprocess.run([py, "-X", "importtime", "-c", f"import {module}"], cwd=REPO,
                          capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), len(m.group(3)), m.group(4)))
    if not rows:
        return []
    min_indent = min(indent for _c, indent, _n in rows)
    outer = [(c, n) for c, indent, n in rows if indent <= min_indent + 2]
    outer.sort(reverse=True)
    return [{"module": n, "cumulative_ms": round(c / 1000, 1)} for c, n in outer[:top]]
