"""The pytest plugin as CI and other projects see it: items, options, markers, snapshots.

Each test runs pytest in a subprocess, most in a small project of its own under tmp_path
(its own pyproject.toml, scenarios and snapshots), never in this repository's.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TINY = """\
name: {name}
description: A deposit and one rebalance on the embedded chain.
seed: 1
clock: {{start: 2024-01-01T00:00:00Z, cycle: 1d, until: 1d}}
universe:
  reserve: USDC
  tokens: {{USDC: {{decimals: 6}}, WETH: {{decimals: 18}}}}
  pools:
    - {{pair: WETH/USDC, price: 2000, depth: 2_000_000}}
strategy: {{module: runner.strategies.rebalance}}
accounting: {{checks: true, on_mismatch: abort}}
timeline:
  - {{at: 0s, deposit: {{amount: 1_000, by: alice}}}}
expect:
  - {{at: 0s, trade: {{pair: WETH/USDC, status: success}}}}
"""


def _pytest(*args: str, cwd: Path, cache: bool = False) -> subprocess.CompletedProcess[str]:
    plugins = ["-p", "no:randomly", *([] if cache else ["-p", "no:cacheprovider"])]
    return subprocess.run([sys.executable, "-m", "pytest", *plugins, *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def project(root: Path, ini: str = "", files: dict[str, str] | None = None) -> Path:
    """A project of its own: pyproject.toml with `ini` under [tool.pytest.ini_options]."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n" + ini)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


class TestCollection:
    def test_each_scenario_is_an_item_per_backend(self) -> None:
        """Collecting a scenario file yields one item per backend, named after the scenario."""
        out = _pytest("--collect-only", "-q", "scenarios/crash/crash-at-approve.yaml", cwd=ROOT).stdout
        assert "scenarios/crash/crash-at-approve.yaml::crash-at-approve[eth-tester]" in out
        assert "scenarios/crash/crash-at-approve.yaml::crash-at-approve[anvil]" in out
        assert "scenarios/crash/crash-at-approve.yaml::crash-at-approve[revm]" in out

    def test_backend_option_selects_one_backend(self) -> None:
        """--dst-backend revm collects the revm item only; node-only scenarios are left out."""
        out = _pytest("--collect-only", "-q", "--dst-backend", "revm", "scenarios/crash/crash-at-approve.yaml",
                      "scenarios/node/stuck-broadcast-then-resume.yaml", cwd=ROOT).stdout
        assert "crash-at-approve[revm]" in out
        assert "[eth-tester]" not in out and "[anvil]" not in out and "stuck-broadcast" not in out

    def test_node_only_scenarios_skip_the_embedded_backend(self) -> None:
        """A scenario declaring backend anvil is collected for anvil only."""
        out = _pytest("--collect-only", "-q", "scenarios/node/stuck-broadcast-then-resume.yaml", cwd=ROOT).stdout
        assert "stuck-broadcast-then-resume[anvil]" in out and "[eth-tester]" not in out and "[revm]" not in out

    def test_keyword_selects_a_backend(self) -> None:
        """-k on the parameter id picks one backend's items."""
        out = _pytest("--collect-only", "-q", "scenarios/crash/crash-at-approve.yaml", "scenarios/crash/crash-at-confirm.yaml",
                      "-k", "anvil", cwd=ROOT).stdout
        items = [line for line in out.splitlines() if "::" in line]
        assert len(items) == 2 and all(line.endswith("[anvil]") for line in items), out

    def test_bad_scenario_fails_collection_with_location_not_traceback(self, tmp_path: Path) -> None:
        """A malformed scenario shows file:line, key, expected and found; no Python traceback."""
        text = (ROOT / "scenarios/crash/crash-at-approve.yaml").read_text().replace("amount: 10_000", "amount: -5")
        project(tmp_path, files={"scenarios/bad.yaml": text})
        result = _pytest("scenarios", cwd=tmp_path)
        assert result.returncode != 0
        assert "scenarios/bad.yaml:18: timeline[0].deposit.amount: expected a positive amount, found -5" in result.stdout
        assert "Traceback" not in result.stdout

    def test_a_projects_own_yaml_is_never_read(self, tmp_path: Path) -> None:
        """tests/scenarios/load-profile.yaml is not under dst_scenarios: the suite runs as if no plugin."""
        project(tmp_path, files={
            "tests/scenarios/load-profile.yaml": "profile: steady\nusers: 50\n",
            "tests/test_mine.py": "def test_mine():\n    assert 1 + 1 == 2\n",
        })
        result = _pytest("-q", cwd=tmp_path)
        assert result.returncode == 0, result.stdout
        assert "1 passed" in result.stdout and "load-profile" not in result.stdout

    def test_ini_paths_globs_and_the_scenario_suffix(self, tmp_path: Path) -> None:
        """dst_scenarios takes paths and globs; *.scenario.yaml is collected anywhere, other YAML nowhere."""
        project(tmp_path, ini='dst_scenarios = ["sims/*.yaml", "more"]\ndst_backend = "eth-tester"\n', files={
            "sims/a.yaml": TINY.format(name="a"),
            "more/deep/b.yaml": TINY.format(name="b"),
            "elsewhere/c.scenario.yaml": TINY.format(name="c"),
            "elsewhere/d.yaml": "not: a scenario\n",
            "scenarios/e.yaml": "not: configured\n",
        })
        out = _pytest("--collect-only", "-q", cwd=tmp_path).stdout
        items = sorted(line for line in out.splitlines() if "::" in line)
        assert items == ["elsewhere/c.scenario.yaml::c[eth-tester]", "more/deep/b.yaml::b[eth-tester]",
                         "sims/a.yaml::a[eth-tester]"], out

    def test_reportinfo_points_at_the_scenario_file(self, tmp_path: Path) -> None:
        """An item's location (reports, JUnit) is the scenario file's `name:` line, not the plugin."""
        conftest = ("def pytest_collection_modifyitems(items):\n"
                    "    for item in items:\n"
                    "        print('LOCATION', item.location[0], item.location[1])\n")
        project(tmp_path, files={"conftest.py": conftest, "scenarios/x.yaml": "# a comment\n" + TINY.format(name="x")})
        out = _pytest("--collect-only", "-q", "-s", cwd=tmp_path).stdout
        assert out.count("LOCATION scenarios/x.yaml 1") == 3, out  # one item per backend; 0-based: line 2


class TestGoodCitizen:
    def test_options_do_not_collide_with_a_projects_own(self, tmp_path: Path) -> None:
        """A conftest defining --backend and --seed coexists with --dst-backend and --dst-seed."""
        conftest = ("def pytest_addoption(parser):\n"
                    "    parser.addoption('--backend', default='postgres')\n"
                    "    parser.addoption('--seed', default='0')\n")
        project(tmp_path, files={"conftest.py": conftest, "scenarios/x.yaml": TINY.format(name="x")})
        result = _pytest("--collect-only", "-q", "--backend", "sqlite", "--dst-backend", "anvil", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "scenarios/x.yaml::x[anvil]" in result.stdout and "[eth-tester]" not in result.stdout

    def test_markers_are_registered_for_strict_markers(self, tmp_path: Path) -> None:
        """--strict-markers with no markers declared: -m anvil / -m scenario select, nothing errors."""
        project(tmp_path, ini='addopts = "--strict-markers"\n', files={"scenarios/x.yaml": TINY.format(name="x")})
        result = _pytest("--collect-only", "-q", "-m", "anvil and scenario", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "scenarios/x.yaml::x[anvil]" in result.stdout and "[eth-tester]" not in result.stdout

    def test_a_missing_snapshot_names_the_command_that_writes_it(self, tmp_path: Path) -> None:
        """No snapshot yet: the failure says which file and which command writes it (before running)."""
        project(tmp_path, ini='dst_backend = "eth-tester"\n', files={"scenarios/x.yaml": TINY.format(name="x")})
        result = _pytest("-q", cwd=tmp_path)
        assert result.returncode == 1
        assert (f"no snapshot {tmp_path / 'snapshots' / 'x.json'} for scenario x: write it with "
                "`pytest 'scenarios/x.yaml::x[eth-tester]' --snapshot-update`") in result.stdout
        assert "AssertionError" not in result.stdout


@dataclass(frozen=True)
class Written:
    project: Path
    update: subprocess.CompletedProcess[str]  # --snapshot-update, run from the project
    diff: subprocess.CompletedProcess[str]  # -vv against a snapshot changed by hand


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Written]:
    """A project writes its snapshot, then one value in it is changed and the run compared."""
    root = project(tmp_path_factory.mktemp("snap") / "proj", ini='dst_backend = "eth-tester"\n',
                   files={"scenarios/tiny.yaml": TINY.format(name="tiny")})
    update = _pytest("-q", "--snapshot-update", cwd=root)
    path = root / "snapshots" / "tiny.json"
    if path.exists():
        path.write_text(path.read_text().replace('"name": "tiny"', '"name": "tiny-edited-by-hand"'))
    diff = _pytest("-vv", cwd=root)
    yield Written(root, update, diff)


class TestSnapshots:
    def test_update_writes_under_the_projects_rootdir(self, written: Written) -> None:
        """--snapshot-update from another project writes its snapshots/, never this repository's."""
        assert written.update.returncode == 0, written.update.stdout
        assert (written.project / "snapshots" / "tiny.json").is_file()
        assert not (ROOT / "snapshots" / "tiny.json").exists()

    def test_ini_option_moves_the_snapshot_directory(self, written: Written, tmp_path: Path) -> None:
        """dst_snapshot_dir names another directory (relative to the rootdir): compared there."""
        good = (written.project / "snapshots" / "tiny.json").read_text().replace("tiny-edited-by-hand", "tiny")
        other = project(tmp_path / "proj", ini='dst_backend = "eth-tester"\ndst_snapshot_dir = "golden/files"\n',
                        files={"scenarios/tiny.yaml": TINY.format(name="tiny"), "golden/files/tiny.json": good})
        result = _pytest("-q", cwd=other)
        assert result.returncode == 0, result.stdout  # the default snapshots/ has none: it failed there

    def test_vv_shows_the_snapshot_diff(self, written: Written) -> None:
        """The plugin's assertion is rewritten (an editable install too): -vv shows syrupy's diff."""
        out = written.diff.stdout
        assert written.diff.returncode == 1
        assert '-     "name": "tiny-edited-by-hand",' in out and '+     "name": "tiny",' in out, out

    def test_a_failed_scenario_shows_its_log(self, written: Written) -> None:
        """pytest's captured log of the failed item holds the runner's records at INFO."""
        out = written.diff.stdout
        log = out.split("Captured log call", 1)[-1]
        assert "Captured log call" in out
        assert "runner.runner" in log and "trade #1 buy WETH/USDC success" in log, out

    def test_lf_reruns_only_the_failed_item(self, written: Written, tmp_path: Path) -> None:
        """The cached id of a failed scenario item matches on the next run: --lf reruns it alone."""
        root = project(tmp_path / "proj", ini='dst_backend = "eth-tester"\n', files={
            "scenarios/tiny.yaml": TINY.format(name="tiny"),
            "scenarios/other.yaml": TINY.format(name="other"),
        })
        (root / "snapshots").mkdir()
        (root / "snapshots" / "tiny.json").write_text(
            (written.project / "snapshots" / "tiny.json").read_text().replace("tiny-edited-by-hand", "tiny"))
        first = _pytest("-q", cwd=root, cache=True)
        assert "1 failed, 1 passed" in first.stdout, first.stdout
        again = _pytest("--lf", cwd=root, cache=True)
        assert "run-last-failure: rerun previous 1 failure" in again.stdout, again.stdout
        assert "1 failed" in again.stdout and "passed" not in again.stdout.splitlines()[-1]
