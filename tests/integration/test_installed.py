"""The harness as another project gets it: installed (not editable) into a fresh venv.

One virtual environment per test session, made by following the README's "Use it in your
own project" install block verbatim (pip builds the wheel from a clean copy of this
checkout, once); every test here then uses it from directories outside this repository.
Versions come from requirements.lock (as pip constraints) and packages from pip's cache
where it has them, so nothing but the package registries is reached.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Use it in your own project"
_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "node_modules", "build", "dist", "runs", "*.egg-info",
                                      "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "bench")


def readme_blocks() -> list[tuple[str, str]]:
    """The fenced blocks of the README's "Use it in your own project" section, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end >= 0 else None]
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w+)\n(.*?)```", section, re.S)]


def _block(kind: str, index: int) -> str:
    return [body for k, body in readme_blocks() if k == kind][index]


@dataclass(frozen=True)
class Installed:
    project: Path  # the README's project directory, holding .venv
    venv: Path
    source: Path  # $DST_HARNESS: the clean copy pip built the wheel from
    seconds: float  # how long the install took (the report quotes it)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a shell in which the README's venv is active."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
                            "PYTEST_XDIST_WORKER_COUNT", "PYTEST_CURRENT_TEST", "ANVIL")}
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra)
        return env

    def run(self, *cmd: str, cwd: Path, timeout: int = 600, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(cmd), cwd=cwd, env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)


def _constraints(path: Path) -> None:
    """requirements.lock without hashes: pip constraints (hashes would turn on hash-checking
    for the wheel being built, which has none)."""
    pins = [line.rstrip(" \\") for line in (ROOT / "requirements.lock").read_text().splitlines()
            if re.match(r"^[A-Za-z0-9]", line)]
    path.write_text("\n".join(pins) + "\n")


def _install(base: Path) -> Installed:
    started = time.monotonic()  # dst-ok: the report quotes the install's duration
    source = base / "dst-harness"
    shutil.copytree(ROOT, source, ignore=_COPY_IGNORE, symlinks=True)
    project = base / "my-project"
    project.mkdir()
    constraints = base / "constraints.txt"
    _constraints(constraints)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(DST_HARNESS=str(source), PIP_CONSTRAINT=str(constraints), PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_COMPILE="1", PIP_QUIET="1")
    script = "set -euo pipefail\n" + _block("sh", 0)
    done = subprocess.run(["bash", "-c", script], cwd=project, env=env, capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"the README's install block failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return Installed(project, project / ".venv", source, time.monotonic() - started)  # dst-ok


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The README's install, once per session: xdist workers share it under a file lock."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's directory, shared by its workers
    root = base / "installed-harness"
    root.mkdir(exist_ok=True)
    done, failed = root / "installed.json", root / "failed.txt"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released before the tests run: only the install is exclusive
        if not done.exists() and not failed.exists():
            try:
                made = _install(root)
            except RuntimeError as exc:
                failed.write_text(str(exc))
            else:
                done.write_text(json.dumps({"project": str(made.project), "venv": str(made.venv),
                                            "source": str(made.source), "seconds": made.seconds}))
                print(f"installed dst-harness into a fresh venv in {made.seconds:.0f}s")
    if failed.exists():
        pytest.fail(failed.read_text(), pytrace=False)
    info = json.loads(done.read_text())
    yield Installed(Path(info["project"]), Path(info["venv"]), Path(info["source"]), info["seconds"])


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> str:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return out


class TestWheel:
    def test_the_installed_package_is_not_this_checkout(self, installed: Installed, tmp_path: Path) -> None:
        """harness, runner and fixtures import from the venv's site-packages, with the artifacts as files."""
        code = ("import harness, runner, fixtures; from runner.chain.abi import artifacts_dir;"
                "print(harness.__file__); print(runner.__file__); print(artifacts_dir())")
        proc = installed.run(str(installed.venv / "bin" / "python"), "-c", code, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        for line in proc.stdout.splitlines():
            assert str(installed.venv) in line and str(ROOT) not in line, line
        artifacts = Path(proc.stdout.splitlines()[-1])
        assert {p.name for p in artifacts.glob("*.json")} == {p.name for p in (ROOT / "fixtures/artifacts").glob("*.json")}
        assert (artifacts / "uniswap" / "UniswapV2Router02.json").is_file()

    def test_a_bundled_scenario_runs_from_another_directory(self, installed: Installed, tmp_path: Path) -> None:
        """`harness run` of a bundled scenario, copied elsewhere: the same snapshot bytes as here."""
        shutil.copy(ROOT / "scenarios" / "tolerance-edge.yaml", tmp_path)
        proc = installed.run("harness", "run", "tolerance-edge.yaml", "--quiet", cwd=tmp_path)
        out = _no_traceback(proc)
        assert proc.returncode == 0, out
        assert "output: runs/tolerance-edge/ (state.json, snapshot.json, run.log)" in out
        assert "next: harness report runs/tolerance-edge/state.json --out runs/tolerance-edge/report" in out
        written = tmp_path / "runs" / "tolerance-edge" / "snapshot.json"
        assert written.read_bytes() == (ROOT / "snapshots" / "tolerance-edge.json").read_bytes()

    def test_without_anvil_the_message_names_every_place_looked(self, installed: Installed, tmp_path: Path) -> None:
        """No ANVIL, no node_modules, no anvil on PATH: one line naming all three, no traceback."""
        shutil.copy(ROOT / "scenarios" / "node" / "node-restart-keeps-chain.yaml", tmp_path)
        path = os.pathsep.join([str(installed.venv / "bin"), "/usr/bin", "/bin"])
        proc = subprocess.run(["harness", "run", "node-restart-keeps-chain.yaml", "--quiet"], cwd=tmp_path,
                              env={**installed.env(), "PATH": path}, capture_output=True, text=True, timeout=300)
        out = _no_traceback(proc)
        assert proc.returncode == 1
        assert "chain backend 'anvil' is unavailable: the anvil binary was not found" in proc.stderr
        for place in ("ANVIL=/path/to/anvil", "PATH", "npm install --save-dev @foundry-rs/anvil@1.7.1"):
            assert place in proc.stderr, out
        assert "npm ci` in the repository" not in proc.stderr


class TestConsumerProject:
    def test_the_example_project_passes_through_the_installed_plugin(self, installed: Installed,
                                                                   tmp_path: Path) -> None:
        """examples/consumer: its strategy, scenario and snapshot, its own --backend and YAML, all green."""
        project = tmp_path / "consumer"
        shutil.copytree(ROOT / "examples" / "consumer", project, ignore=_COPY_IGNORE)
        proc = installed.run("pytest", "-p", "no:cacheprovider", "-v", cwd=project)
        out = _no_traceback(proc)
        assert proc.returncode == 0, out
        assert "scenarios/hold-through-crash.yaml::hold-through-crash[eth-tester] PASSED" in out
        assert "tests/test_hold.py::test_hold_buys_once_and_keeps_it PASSED" in out
        assert "load-profile" not in out
        assert re.search(r"\b4 passed\b", out), out
        assert sorted(p.name for p in (project / "snapshots").iterdir()) == ["hold-through-crash.json"]


class TestReadme:
    def test_use_it_in_your_own_project_verbatim(self, installed: Installed) -> None:
        """The README section's pyproject snippet and commands, as written, in the README's project."""
        project = installed.project
        (project / "pyproject.toml").write_text(_block("toml", 0))
        script = "set -euo pipefail\n" + _block("sh", 1)
        proc = installed.run("bash", "-c", script, cwd=project)
        out = _no_traceback(proc)
        assert proc.returncode == 0, out
        assert (project / "runs" / "my-first-scenario" / "state.json").is_file()
        snapshot = json.loads((project / "snapshots" / "my-first-scenario.json").read_text())
        assert snapshot["scenario"]["name"] == "my-first-scenario"
        assert "1 snapshot generated." in out, out
        assert "1 snapshot passed." in out, out
