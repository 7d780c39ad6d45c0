"""The one clock the benchmarks read: `time.perf_counter`, real even under freezegun.

The engine freezes Python's clock at scenario time for every instant (`freeze_time`),
and freezegun replaces `time.perf_counter` while it does. Modules on freezegun's
ignore list see the real clock (it inspects the calling frames) and are not patched, so
the bench package and the profiler are added to that list before any run starts.
"""

from __future__ import annotations

import time

import freezegun

freezegun.configure(extend_ignore_list=["bench", "pyinstrument"])


def now() -> float:
    """Seconds from an arbitrary origin, monotonic, real time even inside freeze_time."""
    return time.perf_counter()


def cpu_now() -> float:
    """CPU seconds of this process: what an in-process backend's run costs, whatever else
    the machine runs (a loaded 2-core machine stretches wall time, not this)."""
    return time.process_time()


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    if not n:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
