"""pytest plugin: every `scenarios/**/*.yaml` is a test, once per chain backend.

    pytest scenarios/rebase-while-holding.yaml          every backend (eth-tester, anvil, revm)
    pytest scenarios --backend revm                     one backend (node-only scenarios stay on anvil)
    pytest scenarios -k stop-loss --backend eth-tester  one backend
    pytest scenarios --snapshot-update --backend eth-tester   (make snapshots)

A bad scenario file fails collection with the file, line and key of the problem, no
traceback. A failing scenario prints its expectations, journal, fingerprint and the
one command that replays it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ExpectationFailed, HarnessError

SCENARIO_BACKENDS = ("eth-tester", "anvil", "revm")
# "both" keeps its old meaning (eth-tester and anvil); "all" is every backend
BACKEND_CHOICES = (*SCENARIO_BACKENDS, "all", "both")
PORTABLE = ("eth-tester", "revm")  # a scenario declaring one of these runs on every backend


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dst-scenarios", "scenario files")
    group.addoption("--backend", choices=BACKEND_CHOICES, default="all",
                    help="chain backend(s) to run scenario files on (default: all; both = eth-tester and anvil)")
    group.addoption("--scenario-seed", type=int, default=None, help="override every scenario's seed")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a scenario file run on a chain backend")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and "scenarios" in file_path.parts:
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioCollectError(Exception):
    pass


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from harness.scenario import load_scenario

        try:
            scenario = load_scenario(self.path.relative_to(self.config.rootpath))
        except HarnessError as exc:
            raise ScenarioCollectError(str(exc)) from None
        choice = self.config.getoption("--backend")
        backends = {"all": list(SCENARIO_BACKENDS), "both": ["eth-tester", "anvil"]}.get(choice, [choice])
        if scenario.chain.backend not in PORTABLE:
            # It needs what only a node has (a mempool, a process, a fork): that backend only.
            needed = scenario.chain.backend
            backends = [needed] if choice in ("all", "both", "anvil") else []
        for backend in backends:
            item = ScenarioItem.from_parent(
                self, name=f"{scenario.name}[{backend}]", callobj=_make_test(scenario, backend),
            )
            item.add_marker(pytest.mark.scenario)
            if backend == "anvil":
                item.add_marker(pytest.mark.anvil)
            yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, ScenarioCollectError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # type: ignore[return-value]


class ScenarioItem(pytest.Function):
    """A scenario on one backend. A failed expectation reads like a compiler message."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, *args, **kwargs)


def _make_test(scenario: Any, backend: str) -> Any:
    def test_scenario(snapshot: Any, dst_chain_pool: Any, request: pytest.FixtureRequest) -> None:
        from harness.engine import ScenarioRun
        from harness.journal import JOURNAL_HEADER, format_journal_row
        from harness.result import replay_command
        from harness.snapshot import render, snapshot_document
        from harness.snapshot_extension import ScenarioSnapshotExtension

        seed = request.config.getoption("--scenario-seed")
        run = ScenarioRun(scenario, backend=backend, seed=seed, pool=dst_chain_pool)
        result = run.run()
        print(result.fingerprint())
        print("replay:", replay_command(scenario, result.seed, backend))
        print(JOURNAL_HEADER)
        for entry in result.journal:
            print(format_journal_row(entry))
        failed = result.failed_expectations
        if failed:
            lines = [f"{scenario.source.path}:{e.line}: expect {e.kind} at {e.at:%Y-%m-%d %H:%M}: {e.message}" for e in failed]
            raise ExpectationFailed(scenario.source.path, failed[0].line,
                                    f"{len(failed)} expectation(s) failed:\n" + "\n".join(lines))
        if result.unexpected_violations:
            lines = [str(v) for v in result.unexpected_violations]
            raise ExpectationFailed(scenario.source.path, None,
                                    f"{len(lines)} invariant violation(s):\n" + "\n".join(lines))
        if result.unexpected_error:
            raise ExpectationFailed(scenario.source.path, None,
                                    f"the run stopped with an unexpected error: {result.error}")
        doc = render(snapshot_document(result))
        assert doc == snapshot(extension_class=ScenarioSnapshotExtension, name=scenario.name)

    test_scenario.__module__ = "harness.pytest_plugin"
    test_scenario.__name__ = "test_scenario"
    return test_scenario


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test that used this worker's anvil shows the node's log tail."""
    report = yield
    if report.failed and call.when == "call":
        pool = getattr(item, "funcargs", {}).get("dst_chain_pool") or getattr(item, "funcargs", {}).get("chain_pool")
        node = getattr(pool, "_anvil_node", None)
        if node is not None:
            report.sections.append(("anvil log (tail)", node.log_tail(4000)))
    return report


@pytest.fixture(scope="session")
def dst_chain_pool() -> Iterator[Any]:
    """Chains and deployed worlds shared by this process's scenario tests (one anvil per worker)."""
    from harness.chains import ChainPool

    pool = ChainPool()
    try:
        yield pool
    finally:
        pool.close()
