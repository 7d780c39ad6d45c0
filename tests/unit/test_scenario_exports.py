"""The package's public names are the model's own, and a new kind is one class.

As httpx's tests/test_exported_members.py: everything in ``__all__`` exists and is
defined in the package, and everything public the package defines is in ``__all__``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import harness.scenario as scenario_pkg
from harness.scenario import model

ROOT = Path(__file__).resolve().parents[2]


def test_exported_members() -> None:
    """``__all__`` and the package's public members are the same set, sorted."""
    exported = set(scenario_pkg.__all__)
    members = {
        name
        for name, value in vars(scenario_pkg).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "harness.scenario").startswith("harness.scenario")
        and not isinstance(value, type(os))
    }
    assert scenario_pkg.__all__ == sorted(scenario_pkg.__all__)
    assert exported - set(vars(scenario_pkg)) == set()
    assert members - exported == set()


def test_every_kind_and_model_class_is_exported() -> None:
    """Names follow from the classes: every kind, every spec, every limit."""
    kinds = [cls.__name__ for cls in (*model.EVENT_TYPES, *model.EXPECTATION_TYPES)]
    assert set(kinds) <= set(scenario_pkg.__all__)
    assert {"Scenario", "ClockSpec", "MAX_INSTANTS", "MAX_UNITS", "load_scenario", "check_for_backend"} <= set(
        scenario_pkg.__all__
    )


NEW_KIND = '''

class HaltEvent(Event):
    """The world holds still for a moment; nothing happens."""

    kind: ClassVar[str] = "halt"
    shorthand: ClassVar[str | None] = "why"
    example: ClassVar[str] = "lunch"
    example_at: ClassVar[str] = "1d"

    why: Annotated[str, Text(min_length=1, max_length=50)] = Field(description="Why the world stops.")
'''

PROBE = """
import json
import harness.scenario as s
text = open(%r).read() + "  - {at: 1d, halt: lunch}\\n"
scenario = s.parse_scenario_text(text, "x.yaml")
schema = s.scenario_json_schema()
print(json.dumps({
    "parsed": [type(e).__name__ for e in scenario.timeline],
    "why": scenario.timeline[-1].why,
    "line": scenario.timeline[-1].line,
    "exported": "HaltEvent" in s.__all__ and "HaltEvent" in [c.__name__ for c in s.EVENT_TYPES],
    "schema": "halt" in [o["title"] for o in schema["$defs"]["Event"]["oneOf"]] and "HaltEvent" in schema["$defs"],
    "template": "halt: lunch" in s.render_template("x"),
}))
try:
    s.parse_scenario_text(text.replace("halt: lunch", "hlat: lunch"), "x.yaml")
except Exception as exc:
    print(str(exc).splitlines()[-1])
"""


def test_a_new_event_kind_is_one_class(tmp_path: Path) -> None:
    """Appending one class to model.py (a copy of the package) and changing nothing else
    gives the kind its YAML key, its errors, its schema, its template entry and its export."""
    copy = tmp_path / "harness"
    shutil.copytree(ROOT / "harness", copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = (copy / "scenario" / "model.py").read_text()
    marker = "\n\n# -- expectations"
    (copy / "scenario" / "model.py").write_text(source.replace(marker, NEW_KIND + marker, 1))
    base_text = (ROOT / "scenarios" / "deposits-and-first-trades.yaml").read_text()
    scenario_file = tmp_path / "base.yaml"
    scenario_file.write_text(base_text.split("expect:")[0])
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE % str(scenario_file)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert out.returncode == 0, out.stderr
    first, last = out.stdout.strip().splitlines()
    assert '"parsed": ["DepositEvent", "DepositEvent", "HaltEvent"]' in first
    assert '"why": "lunch"' in first
    assert '"exported": true' in first and '"schema": true' in first and '"template": true' in first
    assert "found unknown key 'hlat' (did you mean 'halt'?)" in last
