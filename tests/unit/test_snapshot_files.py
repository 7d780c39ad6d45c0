"""Snapshots and scenarios stay one to one (syrupy cannot see unused files across xdist workers)."""

from __future__ import annotations

from pathlib import Path

from harness.snapshot_prune import orphan_snapshots, scenario_names

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_DIR = ROOT / "snapshots"


class TestSnapshotFiles:
    def test_no_snapshot_without_a_scenario(self) -> None:
        """Every snapshots/*.json names a bundled scenario (`make snapshots` removes orphans)."""
        assert orphan_snapshots(ROOT / "scenarios", SNAPSHOT_DIR) == []

    def test_every_scenario_has_a_snapshot(self) -> None:
        """Every bundled scenario has its reviewed snapshot committed."""
        missing = [name for name in scenario_names(ROOT / "scenarios") if not (SNAPSHOT_DIR / f"{name}.json").exists()]
        assert missing == []

    def test_orphan_detection_can_fail(self, tmp_path: Path) -> None:
        """A snapshot file with no scenario of that name is reported."""
        (tmp_path / "scen").mkdir()
        (tmp_path / "snaps").mkdir()
        (tmp_path / "snaps" / "ghost.json").write_text("{}")
        assert [p.name for p in orphan_snapshots(tmp_path / "scen", tmp_path / "snaps")] == ["ghost.json"]
