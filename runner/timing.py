"""Step timing: the `timed_task_context_manager` seam.

The default does nothing (simulation speed); `StepTimer` collects per-step durations
for profiling. Durations never enter the state or a snapshot: they are wall time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

TimedTask = Callable[..., AbstractContextManager[Any]]


def no_timing(task_name: str, **_kwargs: Any) -> AbstractContextManager[None]:
    return nullcontext()


class StepTimer:
    """Accumulates wall time per step name; for benchmarks and profiling only."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)  # float-ok: profiling seconds
        self.counts: dict[str, int] = defaultdict(int)

    @contextmanager
    def __call__(self, task_name: str, **_kwargs: Any) -> Iterator[None]:
        start = time.perf_counter()  # dst-ok: profiling only
        try:
            yield
        finally:
            self.totals[task_name] += time.perf_counter() - start  # dst-ok
            self.counts[task_name] += 1
