"""pytest plugin: scenario files are tests, once per chain backend, against snapshots.

Installed with ``pip install 'dst-harness[pytest]'`` (entry point ``dst_scenarios``;
``-p no:dst_scenarios`` turns it off).

    pytest scenarios/rebase-while-holding.yaml              every backend (eth-tester, anvil, revm)
    pytest scenarios -k stop-loss --dst-backend eth-tester  one backend
    pytest scenarios --dst-backend eth-tester --snapshot-update   (make snapshots)

What is collected: ``*.yaml``/``*.yml`` files under the paths or globs of the
``dst_scenarios`` ini option (relative to the rootdir; default ``scenarios``), and any
``*.scenario.yaml``/``*.scenario.yml`` file pytest visits. Nothing else: a project's own
YAML is never read. Each scenario is one test function, parametrised by backend
(``x.yaml::name[eth-tester]``, ``[anvil]``) through ``pytest_generate_tests``, so
``-k``, ``--lf`` and ``--ff`` see ordinary parametrised ids.

Options: ``--dst-backend eth-tester|anvil|revm|both|all`` (ini ``dst_backend``, default
all; both = eth-tester and anvil),
``--dst-seed N``. Ini: ``dst_scenarios``, ``dst_snapshot_dir`` (default ``snapshots``,
relative to the rootdir), ``dst_backend``, ``dst_log_level`` (default INFO). Markers:
``scenario`` and ``anvil``. Fixtures: ``run_scenario`` (run a scenario file from a
Python test), ``dst_chain_pool`` (this process's chains).

A bad scenario file fails collection with the file, line and key of the problem, no
traceback. A failing scenario prints its expectations, journal, fingerprint, the one
command that replays it and its log.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# Before the import below: the snapshot assertion lives there, and only a module
# registered before its first import gets pytest's assertion rewriting (the -vv diff).
# A wheel install gets it anyway (pytest rewrites its plugins' distributions); an
# editable one does not.
# syrupy (the [pytest] extra) is imported only when a scenario runs: a project with the
# harness but without syrupy keeps a working pytest.
pytest.register_assert_rewrite("harness.snapshot_extension")

from harness.errors import HarnessError  # noqa: E402

if TYPE_CHECKING:
    from harness.chains import ChainPool
    from harness.result import RunResult

SCENARIO_BACKENDS = ("eth-tester", "anvil", "revm")
BACKEND_CHOICES = (*SCENARIO_BACKENDS, "both", "all")  # both: eth-tester and anvil; all: every backend
PORTABLE = ("eth-tester", "revm")  # a scenario declaring one of these runs on every backend
SCENARIO_SUFFIXES = (".scenario.yaml", ".scenario.yml")
INI_SCENARIOS = "dst_scenarios"
INI_SNAPSHOTS = "dst_snapshot_dir"  # harness.snapshot_extension reads it too
INI_BACKEND = "dst_backend"
INI_LOG_LEVEL = "dst_log_level"
_GLOB = re.compile(r"[*?\[]")
_NAME_LINE = re.compile(rb"^name\s*:", re.MULTILINE)
logger = logging.getLogger(__name__)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dst-harness", "dst-harness scenario files")
    group.addoption("--dst-backend", choices=BACKEND_CHOICES, default=None,
                    help=f"chain backend(s) to run scenario files on (default: the {INI_BACKEND} ini value, all)")
    group.addoption("--dst-seed", type=int, default=None, help="override every scenario's seed")
    parser.addini(INI_SCENARIOS, type="linelist", default=["scenarios"],
                  help="paths or globs (relative to the rootdir) whose *.yaml/*.yml files are scenarios; "
                       "*.scenario.yaml files are collected anywhere")
    parser.addini(INI_SNAPSHOTS, type="string", default="snapshots",
                  help="directory of the scenario snapshots (relative to the rootdir)")
    parser.addini(INI_BACKEND, type="string", default="all",
                  help="chain backend(s) when --dst-backend is not given: eth-tester, anvil, revm, both or all")
    parser.addini(INI_LOG_LEVEL, type="string", default="INFO",
                  help="level of the runner's and harness's records pytest captures for a scenario")


@dataclass(frozen=True)
class Settings:
    """What the ini file and the command line say, resolved once per session."""

    rootpath: Path
    dirs: tuple[Path, ...]
    files: frozenset[Path]
    snapshot_dir: Path
    backend: str
    seed: int | None
    log_level: int

    def wants(self, path: Path) -> bool:
        if path.name.endswith(SCENARIO_SUFFIXES):
            return True
        if path.suffix not in (".yaml", ".yml"):
            return False
        absolute = Path(os.path.abspath(path))
        return absolute in self.files or any(d == absolute.parent or d in absolute.parents for d in self.dirs)


SETTINGS = pytest.StashKey[Settings]()


def _settings(config: pytest.Config) -> Settings:
    from harness.logs import level_number

    root = config.rootpath
    dirs: list[Path] = []
    files: set[Path] = set()
    for entry in config.getini(INI_SCENARIOS):
        pattern = os.path.join(root, entry)
        matches = [Path(p) for p in glob.glob(pattern, recursive=True)] if _GLOB.search(entry) else [Path(pattern)]
        for match in matches:
            absolute = Path(os.path.abspath(match))
            (files.add(absolute) if absolute.is_file() else dirs.append(absolute))
    backend = config.getoption("--dst-backend") or config.getini(INI_BACKEND)
    if backend not in BACKEND_CHOICES:
        raise pytest.UsageError(f"{INI_BACKEND} = {backend!r}: expected one of {', '.join(BACKEND_CHOICES)}")
    try:
        level = level_number(config.getini(INI_LOG_LEVEL))
    except ValueError as exc:
        raise pytest.UsageError(f"{INI_LOG_LEVEL}: {exc}") from None
    snapshots = Path(os.path.abspath(os.path.join(root, config.getini(INI_SNAPSHOTS))))
    return Settings(root, tuple(dirs), frozenset(files), snapshots, backend, config.getoption("--dst-seed"), level)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a dst-harness scenario file run on a chain backend")
    config.addinivalue_line("markers", "anvil: needs the anvil binary (ANVIL, node_modules or PATH)")
    config.stash[SETTINGS] = _settings(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if parent.config.stash[SETTINGS].wants(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def backends_for(scenario: Any, choice: str) -> list[str]:
    """The backends a scenario runs on under `--dst-backend choice`: of those chosen, the
    ones that can carry out every event it has (a revm scenario restarting its node, as
    `harness fuzz` writes them, is not an eth-tester item)."""
    from harness.scenario.model import backend_problems

    if scenario.chain.backend not in PORTABLE:
        # It needs what only a node has (a mempool, a process, a fork): that backend only.
        return [scenario.chain.backend] if choice in ("all", "both", "anvil") else []
    chosen = {"all": list(SCENARIO_BACKENDS), "both": ["eth-tester", "anvil"]}.get(choice, [choice])
    return [b for b in chosen if next(backend_problems(scenario, b), None) is None]


class ScenarioFile(pytest.Module):
    """A scenario file as a module holding one test function, named after the scenario."""

    def _getobj(self) -> types.ModuleType:
        return self._load()

    def _load(self) -> types.ModuleType:
        from harness.scenario import load_scenario

        settings = self.config.stash[SETTINGS]
        if not self.config.pluginmanager.hasplugin("syrupy"):
            raise self.CollectError(f"{self.path}: scenario files are compared with snapshots by syrupy, "
                                    "which is not installed: pip install 'dst-harness[pytest]'")
        shown = _shown(self.path)
        try:
            scenario = load_scenario(shown)
        except HarnessError as exc:
            raise self.CollectError(str(exc)) from None
        module = types.ModuleType(f"dst_scenario:{shown}", scenario.description)
        module.__file__ = str(self.path)
        backends = backends_for(scenario, settings.backend)
        if backends:
            setattr(module, scenario.name, _make_test(scenario, backends, self.path, _name_line(self.path)))
        return module


def _shown(path: Path) -> str:
    """The path as messages and replay commands print it: from the current directory when
    the file is under it (the rootdir, as a rule), else absolute."""
    here = Path.cwd()
    return os.path.relpath(path, here) if here in path.parents else str(path)


def _name_line(path: Path) -> int:
    """The 1-based line of the scenario's `name:` key (1 if it cannot be found)."""
    data = path.read_bytes()
    found = _NAME_LINE.search(data)
    return 1 if found is None else data.count(b"\n", 0, found.start()) + 1


def _anchor(path: Path, line: int) -> Callable[[], None]:
    """A function "defined" at `path:line`: pytest's reportinfo (the item's location in
    reports, `-v`, JUnit) then points at the scenario file, not at this plugin."""
    def anchor() -> None:
        """Location only; never called."""

    anchor.__code__ = anchor.__code__.replace(co_filename=str(path), co_firstlineno=line)
    return anchor


def _make_test(scenario: Any, backends: list[str], path: Path, line: int) -> Callable[..., None]:
    def test_scenario(dst_backend: str, run_scenario: Any, snapshot: Any, request: pytest.FixtureRequest) -> None:
        from harness.journal import JOURNAL_HEADER, format_journal_row
        from harness.result import replay_command
        from harness.snapshot import render, snapshot_document
        from harness.snapshot_extension import assert_matches

        __tracebackhide__ = True  # a failure shows the snapshot diff, not this plugin's code
        settings = request.config.stash[SETTINGS]
        expected = settings.snapshot_dir / f"{scenario.name}.json"
        if not expected.exists() and not request.config.getoption("update_snapshots", False):
            pytest.fail(f"no snapshot {expected} for scenario {scenario.name}: write it with "
                        f"`pytest '{request.node.nodeid}' --snapshot-update` (then review it like code)",
                        pytrace=False)
        try:
            result = run_scenario(scenario, backend=dst_backend, check=False)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)
        print(result.fingerprint())
        print("replay:", replay_command(scenario, result.seed, dst_backend))
        print(JOURNAL_HEADER)
        for entry in result.journal:
            print(format_journal_row(entry))
        problem = _problems(result)
        if problem:
            pytest.fail(problem, pytrace=False)
        assert_matches(render(snapshot_document(result)), snapshot, scenario.name)

    test_scenario.__test__ = True  # type: ignore[attr-defined]  # collected whatever its name
    test_scenario.__name__ = scenario.name
    test_scenario.__doc__ = scenario.description
    test_scenario.place_as = _anchor(path, line)  # type: ignore[attr-defined]
    test_scenario.dst_backends = tuple(backends)  # type: ignore[attr-defined]
    return test_scenario


def _problems(result: RunResult) -> str | None:
    """Why a run failed its own file (expectations, invariants, an unexpected error), or None."""
    scenario = result.scenario
    failed = result.failed_expectations
    if failed:
        lines = [f"{scenario.source.path}:{e.line}: expect {e.kind} at {e.at:%Y-%m-%d %H:%M}: {e.message}" for e in failed]
        return f"{scenario.source.path}:{failed[0].line}: {len(failed)} expectation(s) failed:\n" + "\n".join(lines)
    if result.unexpected_violations:
        lines = [str(v) for v in result.unexpected_violations]
        return f"{scenario.source.path}: {len(lines)} invariant violation(s):\n" + "\n".join(lines)
    if result.unexpected_error:
        return f"{scenario.source.path}: the run stopped with an unexpected error: {result.error}"
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The real parametrisation of a scenario's test function: one call per backend."""
    backends = getattr(metafunc.function, "dst_backends", None)
    if backends is not None and "dst_backend" in metafunc.fixturenames:
        marks = {"anvil": [pytest.mark.anvil]}
        metafunc.parametrize("dst_backend", [
            pytest.param(b, id=b, marks=[pytest.mark.scenario, *marks.get(b, [])]) for b in backends
        ])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test that used this worker's anvil shows the node's log tail."""
    report = yield
    if report.failed and call.when == "call":
        funcargs = getattr(item, "funcargs", {})
        pool = funcargs.get("dst_chain_pool") or funcargs.get("chain_pool")
        node = getattr(pool, "_anvil_node", None)
        if node is not None:
            report.sections.append(("anvil log (tail)", node.log_tail(4000)))
    return report


@pytest.fixture(scope="session")
def dst_chain_pool() -> Iterator[ChainPool]:
    """Chains and deployed worlds shared by this process's scenario tests (one anvil per worker)."""
    from harness.chains import ChainPool

    pool = ChainPool()
    try:
        yield pool
    finally:
        pool.close()


class RunScenario:
    """The `run_scenario` fixture: ``run_scenario(path, backend=None, seed=None, check=True)``.

    `path` is a scenario file (relative paths from the rootdir) or a loaded Scenario;
    `backend` defaults to the file's, `seed` to ``--dst-seed`` or the file's. Returns the
    RunResult (``.state``, ``.journal``, ``.expectations``, ``.fingerprint()``); with
    `check` a failed expectation, an invariant violation or an unexpected error fails the
    test with the file and line, no traceback. The runner's and harness's records are
    captured at ``dst_log_level`` (pytest shows them when the test fails).
    """

    def __init__(self, pool: ChainPool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    def __call__(self, path: Any, *, backend: str | None = None, seed: int | None = None,
                 check: bool = True) -> RunResult:
        from harness.engine import ScenarioRun
        from harness.logs import logger_levels
        from harness.scenario import load_scenario

        scenario = path
        if isinstance(path, str | os.PathLike):
            try:
                scenario = load_scenario(_shown(Path(self.settings.rootpath, path)))
            except HarnessError as exc:
                pytest.fail(str(exc), pytrace=False)
        seed = seed if seed is not None else self.settings.seed
        # Our loggers let through what pytest's own --log-level lets through, and at least dst_log_level.
        level = min(self.settings.log_level, logging.getLogger().getEffectiveLevel())
        with logger_levels(level):
            logger.info("scenario %s on %s (seed %s)", scenario.name, backend or scenario.chain.backend,
                        scenario.seed if seed is None else seed)
            try:
                result: RunResult = ScenarioRun(scenario, backend=backend, seed=seed, pool=self.pool).run()
            except HarnessError as exc:  # a backend that cannot start, a runtime scenario error
                pytest.fail(str(exc), pytrace=False)
        if check:
            problem = _problems(result)
            if problem:
                pytest.fail(problem, pytrace=False)
        return result


@pytest.fixture
def run_scenario(dst_chain_pool: ChainPool, request: pytest.FixtureRequest) -> RunScenario:
    """Run a scenario file from a Python test: ``result = run_scenario("scenarios/x.yaml")``.

    See :class:`harness.pytest_plugin.RunScenario` for the arguments.
    """
    return RunScenario(dst_chain_pool, request.config.stash[SETTINGS])
