"""``harness new`` writes a scenario that passes its own expectations when run as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.scenario import EVENT_TYPES, EXPECTATION_TYPES, render_template


def test_every_kind_is_in_the_catalogue() -> None:
    """The catalogue is read from the classes: each kind with its example."""
    text = render_template("x")
    for cls in (*EVENT_TYPES, *EXPECTATION_TYPES):
        assert f"{cls.kind}: {cls.example}" in text


def test_new_then_run_passes(tmp_path: Path) -> None:
    """The generated file runs on the embedded chain and every expectation holds."""
    cli = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]
    made = subprocess.run([*cli, "new", "fresh", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    ran = subprocess.run([*cli, "run", str(tmp_path / "fresh.yaml"), "--quiet"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    results = [line for line in ran.stdout.splitlines() if " expect " in line]
    assert len(results) == sum(cls.live for cls in EXPECTATION_TYPES)
    assert all(line.strip().startswith("ok") for line in results), "\n".join(results)
