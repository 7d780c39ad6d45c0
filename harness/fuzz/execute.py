"""One generated run, executed where it is sent: in this process, a local worker process
or a cluster worker. Input is scenario text; output is a `Verdict` of plain values.

Each process keeps one `ChainPool` (its own embedded chain or anvil node, and the
deployed world as a snapshot), created on its first run and stopped at exit, so a worker
pays for a node once, not per run. What a run does depends only on its text: the world
is reverted to the snapshot taken right after deployment, whichever runs came before.

With coverage, the runner's lines and branches are measured around `ScenarioRun.run`
only, after the world is ready (deployment goes through the runner's chain client, and
whether a world is deployed or reverted to depends on what the process ran before) and
with the runner's function caches cleared, so a run's arcs are a function of its text and
not of the worker it happened to land on.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import os
import pkgutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.chains import ChainPool, world_spec
from harness.errors import HarnessError
from harness.scenario import parse_scenario_text

RUNNER_DIR = str(Path(__file__).resolve().parents[2] / "runner")
Arc = tuple[str, int, int]


@dataclass(frozen=True)
class Job:
    """What a worker needs to carry out one run: plain values, so it pickles anywhere."""

    run: int
    seed: int
    text: str
    backend: str
    coverage: bool = False
    label: str = "<fuzz>"


@dataclass
class Verdict:
    """What one run found. `signature` names the failure (None: the run passed)."""

    run: int
    seed: int
    name: str
    sha256: str
    backend: str
    events: int = 0
    instants: int = 0
    invariant_checks: int = 0
    violations: list[str] = field(default_factory=list)  # invariant names, first occurrence order
    detail: str = ""
    stop: str | None = None  # the runner stopped itself (abort policy, a refused trade, ...)
    signature: str | None = None
    arcs: list[Arc] | None = None

    @property
    def failed(self) -> bool:
        return self.signature is not None

    def outcome(self) -> dict[str, Any]:
        """What must be identical across machines and worker counts (no arcs, no timing)."""
        return {"run": self.run, "seed": self.seed, "name": self.name, "sha256": self.sha256,
                "events": self.events, "invariant_checks": self.invariant_checks,
                "violations": self.violations, "stop": self.stop, "signature": self.signature}


_POOL: ChainPool | None = None
_COVERAGE: Any = None


def _pool() -> ChainPool:
    global _POOL
    if _POOL is None:
        _POOL = ChainPool(fork_runners=True)  # a runner process per run and per crash: forked, not exec'd
        atexit.register(_close)
    return _POOL


def _close() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.close()
        _POOL = None


def close_worker() -> None:
    """Stop this process's node now (a campaign run in-process calls it at its end)."""
    _close()


def _import_runner() -> None:
    """Every runner module imported before anything is measured: a module's first import
    would otherwise count as coverage of whichever run triggered it."""
    import runner

    for info in pkgutil.walk_packages(runner.__path__, "runner."):
        importlib.import_module(info.name)


def _clear_caches() -> None:
    """The runner's memoised functions forgotten, so each run executes their bodies anew."""
    import sys

    for name, module in sorted(sys.modules.items()):
        if name == "runner" or name.startswith("runner."):
            for value in list(vars(module).values()):
                clear = getattr(value, "cache_clear", None)
                if callable(clear) and getattr(value, "__module__", None) == name:
                    clear()


def _coverage() -> Any:
    global _COVERAGE
    if _COVERAGE is None:
        try:
            from coverage import Coverage
        except ImportError:
            raise HarnessError("--coverage needs coverage.py: pip install coverage") from None

        _import_runner()
        # runner/chain/http.py is left out: the harness's wire proxy forwards every request
        # of a runner process through it on threads of its own, so what it reaches there is
        # the threads' timing (a connection still open when the proxy stops), not the run
        _COVERAGE = Coverage(data_file=None, branch=True, include=[os.path.join(RUNNER_DIR, "*")],
                             omit=[os.path.join(RUNNER_DIR, "chain", "http.py")])
    return _COVERAGE


def execute(job: Job) -> Verdict:
    """Run one scenario text on this process's chain and judge it."""
    from harness.accounts import Accounts
    from harness.engine import ScenarioRun

    sha = hashlib.sha256(job.text.encode()).hexdigest()
    try:
        scenario = parse_scenario_text(job.text, job.label)
    except HarnessError as exc:  # a generator bug: the model refused what was drawn
        return Verdict(job.run, job.seed, "?", sha, job.backend, signature="error:invalid-scenario",
                       detail=str(exc).splitlines()[0])
    verdict = Verdict(job.run, job.seed, scenario.name, sha, job.backend, events=len(scenario.timeline),
                      instants=scenario.clock.instants())
    pool = _pool()
    cov = _coverage() if job.coverage else None
    with tempfile.TemporaryDirectory(prefix="dst-fuzz-") as tmp:
        try:
            if cov is not None:
                pool.world(job.backend, world_spec(scenario), Accounts.for_investors(scenario.investors))
                _clear_caches()
                cov.erase()
                cov.start()
            try:
                result = ScenarioRun(scenario, backend=job.backend, pool=pool, state_dir=Path(tmp)).run()
            finally:
                if cov is not None:
                    cov.stop()
        except HarnessError as exc:
            verdict.signature = f"error:{type(exc).__name__}"
            verdict.detail = str(exc).splitlines()[0]
            _recover(pool)
            return verdict
        except Exception as exc:  # noqa: BLE001 - an unexpected error is what the fuzzer looks for
            verdict.signature = f"crash:{type(exc).__name__}"
            verdict.detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            _recover(pool)
            return verdict
    if cov is not None:
        verdict.arcs = _arcs(cov)
    verdict.invariant_checks = result.invariant_checks
    names: list[str] = []
    for v in result.unexpected_violations:
        if v.invariant not in names:
            names.append(v.invariant)
    verdict.violations = names
    if result.error:
        verdict.stop = result.error_kind or "error"
    if names:
        first = result.unexpected_violations[0]
        verdict.signature = f"invariant:{first.invariant}"
        verdict.detail = f"at {first.at}: {first.detail}"
    return verdict


def _recover(pool: ChainPool) -> None:
    """After a run died half-way its node may be in any state: start afresh next time."""
    pool.close()


def _arcs(cov: Any) -> list[Arc]:
    data = cov.get_data()
    out: list[Arc] = []
    for path in sorted(data.measured_files()):
        rel = os.path.relpath(path, os.path.dirname(RUNNER_DIR))
        out.extend((rel, a, b) for a, b in sorted(data.arcs(path) or ()))
    return out


__all__ = ["Arc", "Job", "Verdict", "close_worker", "execute"]
