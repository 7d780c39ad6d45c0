"""Campaigns on a Dask distributed cluster: `harness fuzz --cluster ADDRESS`.

Dask (`pip install .[cluster]`) rather than Ray: it is pure Python wheels on PyPI, starts
a local cluster in a second with nothing but loopback sockets (`LocalCluster(host=
"127.0.0.1")`), and `Client.map` + `Client.gather` hand results back in submission order,
which is all a deterministic campaign needs. Ray brings a large native runtime (its own
object store, GCS and dashboard processes) for scheduling features we do not use.

Each Dask worker process runs `execute` like a local worker: its own node and world
snapshot, kept for the worker's life (harness.fuzz.execute's process-wide pool). Tasks
carry scenario text, results are plain `Verdict`s, so the cluster's results equal a local
campaign's with the same seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.fuzz.execute import Job, Verdict, execute


class ClusterError(RuntimeError):
    """The cluster cannot be used (the extra is not installed, the scheduler is unreachable)."""


def _client(address: str, timeout: float) -> Any:  # float-ok: seconds, not money
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError("--cluster needs Dask distributed: pip install '.[cluster]'") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except OSError as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


_CLOCK_USERS = ["distributed", "dask", "tornado", "asyncio", "concurrent", "threading", "selectors", "psutil"]
"""Modules that must keep reading the real clock while a run freezes Python's (the
engine's freeze_time): the worker's event loop, heartbeats and timeouts. freezegun
inspects the calling frames and gives these the real time."""


def run_on_worker(job: Job) -> Verdict:
    """`execute` on a Dask worker, whose event loop shares the process with the frozen clock."""
    global _CONFIGURED
    if not _CONFIGURED:
        import freezegun

        freezegun.configure(extend_ignore_list=_CLOCK_USERS)
        _CONFIGURED = True
    return execute(job)


_CONFIGURED = False


class DaskExecutor:
    """Runs a campaign's jobs on the workers of the cluster at `address`."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:  # float-ok: seconds, not money
        self.client = _client(address, timeout)

    def map(self, jobs: Sequence[Job]) -> list[Verdict]:
        # pure=False: two jobs with the same text are still two runs
        futures = self.client.map(run_on_worker, list(jobs), pure=False)
        verdicts: list[Verdict] = self.client.gather(futures)
        return verdicts

    def close(self) -> None:
        self.client.close()


def local_cluster(workers: int = 2) -> Any:
    """A loopback-only cluster of `workers` single-threaded worker processes (tests, demos)."""
    try:
        from distributed import LocalCluster
    except ImportError:
        raise ClusterError("a local cluster needs Dask distributed: pip install '.[cluster]'") from None
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, scheduler_port=0, silence_logs=40)


__all__ = ["ClusterError", "DaskExecutor", "local_cluster"]
