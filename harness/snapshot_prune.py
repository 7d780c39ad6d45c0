"""Remove snapshot files whose scenario no longer exists (`make snapshots` runs this).

syrupy's own unused-snapshot detection cannot see across pytest-xdist workers, so the
project decides by name: a snapshot is in use when a scenario file declares that name.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.scenario import load_scenario
from harness.snapshot_extension import DEFAULT_SNAPSHOT_DIR

# Relative to the project it runs in (make snapshots runs it from the repository's root).
SCENARIO_DIR = Path("scenarios")
SNAPSHOT_DIR = Path(DEFAULT_SNAPSHOT_DIR)


def scenario_names(root: Path = SCENARIO_DIR) -> dict[str, Path]:
    names: dict[str, Path] = {}
    for path in sorted(root.rglob("*.yaml")):
        names[load_scenario(path).name] = path
    return names


def orphan_snapshots(root: Path = SCENARIO_DIR, snapshots: Path = SNAPSHOT_DIR) -> list[Path]:
    names = scenario_names(root)
    return [p for p in sorted(snapshots.glob("*.json")) if p.stem not in names]


def main() -> int:
    for path in orphan_snapshots():
        path.unlink()
        print(f"removed orphan snapshot {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
