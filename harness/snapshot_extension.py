"""A syrupy extension: one readable JSON file per scenario under `snapshots/`.

Both backends' test items assert against the same file, so a difference between
eth-tester and anvil fails one of them with the diff of the two documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

SNAPSHOT_DIR = Path(__file__).resolve().parents[1] / "snapshots"


class ScenarioSnapshotExtension(SingleFileSnapshotExtension):
    file_extension = "json"
    _write_mode = WriteMode.TEXT

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(SNAPSHOT_DIR)

    @classmethod
    def discovery_dirname(cls, *, test_location: Any) -> str:
        return str(SNAPSHOT_DIR)

    @classmethod
    def get_snapshot_name(cls, *, test_location: Any, index: Any = 0) -> str:
        # The scenario's name is the index: one file per scenario, shared by backends.
        return str(index)

    def serialize(self, data: Any, **kwargs: Any) -> str:
        return data.decode() if isinstance(data, bytes) else str(data)
