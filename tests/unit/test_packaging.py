"""What other projects and CI depend on: ranges, the lock, package data, the workflow, the docs."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def _lock() -> dict[str, tuple[str, str | None, int]]:
    """name -> (version, marker, number of hashes) from requirements.lock."""
    pins: dict[str, tuple[str, str | None, int]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = _PIN.match(line)
        if m:
            name = canonicalize_name(m.group(1))
            pins[name] = (m.group(2), m.group(3), 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, marker, hashes = pins[name]
            pins[name] = (version, marker, hashes + 1)
    return pins


def _requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra if not r.startswith("dst-harness")]
    return reqs


class TestDependencies:
    def test_pyproject_declares_ranges_not_pins(self) -> None:
        """A project installing the harness resolves ranges; exact pins are the lock's business."""
        pinned = [str(r) for r in _requirements() if any(s.operator in ("==", "===") for s in r.specifier)]
        assert pinned == []

    def test_the_pytest_extra_brings_the_plugin_and_syrupy(self) -> None:
        extras = PYPROJECT["project"]["optional-dependencies"]
        assert {Requirement(r).name for r in extras["pytest"]} == {"pytest", "syrupy"}
        assert "dst-harness[pytest]" in extras["test"]
        assert PYPROJECT["project"]["entry-points"]["pytest11"] == {"dst_scenarios": "harness.pytest_plugin"}

    def test_the_lock_pins_every_requirement_within_its_range_with_hashes(self) -> None:
        """Each direct requirement is locked at one exact version inside its range, hash-checked."""
        lock = _lock()
        assert lock and all(hashes > 0 for _, _, hashes in lock.values())
        for req in _requirements():
            name = canonicalize_name(req.name)
            assert name in lock, f"{req} is not in requirements.lock: run `make lock`"
            assert req.specifier.contains(lock[name][0], prereleases=True), f"{req}: locked {lock[name][0]}"
            for extra in req.extras:  # eth-tester[py-evm], eth-hash[pycryptodome]: their packages too
                wanted = [Requirement(r) for r in metadata.requires(req.name) or [] if f'extra == "{extra}"' in r]
                assert wanted and all(canonicalize_name(r.name) in lock for r in wanted), f"{req}: [{extra}] not locked"

    def test_this_environment_is_the_locked_one(self) -> None:
        """make install installed the lock: every locked package that applies here, at its version."""
        env = default_environment()
        wrong = []
        for name, (version, marker, _) in _lock().items():
            if marker and not Requirement(f"x; {marker}").marker.evaluate(env):  # type: ignore[union-attr]
                continue
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                installed = "missing"
            if installed != version:
                wrong.append(f"{name}: locked {version}, installed {installed}")
        assert wrong == [], "run `make install`"

    def test_make_install_installs_from_the_lock(self) -> None:
        """The venv comes from requirements.lock (hash-checked), the project itself without deps."""
        recipe = (ROOT / "Makefile").read_text().split("$(PY_STAMP): ", 1)[1].split("\n\n", 1)[0]
        assert recipe.startswith("pyproject.toml requirements.lock\n")
        assert "pip install --quiet --require-hashes -r requirements.lock" in recipe
        assert "pip install --quiet --no-deps --no-build-isolation -e ." in recipe


class TestPackageData:
    def test_the_wheel_ships_every_artifact(self) -> None:
        """fixtures/artifacts and its uniswap/ builds are package data (the wheel test installs them)."""
        data = PYPROJECT["tool"]["setuptools"]["package-data"]
        assert data["fixtures.artifacts"] == ["*.json"] and data["fixtures.artifacts.uniswap"] == ["*.json"]
        found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
        assert {"fixtures", "fixtures.artifacts", "fixtures.artifacts.uniswap", "harness", "runner"} <= set(found)


class TestCi:
    def test_the_workflow_lints_and_tests_on_every_supported_python(self) -> None:
        flow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
        job = flow["jobs"]["test"]
        assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]
        steps = job["steps"]
        python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
        node = next(s for s in steps if s.get("uses", "").startswith("actions/setup-node"))
        assert python["with"]["cache"] == "pip" and python["with"]["cache-dependency-path"] == "requirements.lock"
        assert node["with"]["cache"] == "npm" and node["with"]["cache-dependency-path"] == "package-lock.json"
        runs = [s.get("run", "") for s in steps]
        assert any(r.startswith("make lint") for r in runs) and any(r.startswith("make test-ci") for r in runs)
        upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
        assert upload["if"] == "always()" and upload["with"]["path"] == "build/junit.xml"

    def test_ci_run_lints_then_tests(self) -> None:
        commands = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line.startswith("make ")]
        assert commands == ["make lint", "make test"]


class TestDocs:
    def test_no_pytest_command_uses_the_old_option_names(self) -> None:
        """--backend and --scenario-seed became --dst-backend and --dst-seed everywhere pytest runs."""
        stale = []
        for path in [ROOT / "README.md", ROOT / "Makefile", *sorted((ROOT / "docs").glob("*.md")),
                     *sorted((ROOT / "examples").rglob("*.md")), ROOT / "harness" / "pytest_plugin.py"]:
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if "pytest" in line and re.search(r"(?<![\w-])--(backend|scenario-seed)\b", line):
                    stale.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
        assert stale == []
