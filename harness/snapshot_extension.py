"""A syrupy extension: one readable JSON file per scenario in the snapshot directory.

The directory is the pytest plugin's ``dst_snapshot_dir`` ini value, relative to the
rootdir (default ``snapshots/``): the project running pytest owns its snapshots, never the
installed package. Both backends' test items assert against the same file, so a
difference between eth-tester and anvil fails one of them with the diff of the two
documents.

The plugin registers this module for assertion rewriting before importing it, so the
assertion in `assert_matches` gets syrupy's diff (``-vv`` shows all of it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

DEFAULT_SNAPSHOT_DIR = "snapshots"
SNAPSHOT_DIR_INI = "dst_snapshot_dir"  # registered by the plugin


def snapshot_dir(item: Any) -> Path:
    """The snapshot directory of the session `item` belongs to: the ini value, from the rootdir."""
    config = item.config
    try:
        configured = config.getini(SNAPSHOT_DIR_INI) or DEFAULT_SNAPSHOT_DIR
    except ValueError:  # the plugin is not loaded (-p no:dst_scenarios)
        configured = DEFAULT_SNAPSHOT_DIR
    return Path(os.path.abspath(os.path.join(config.rootpath, configured)))


class ScenarioSnapshotExtension(SingleFileSnapshotExtension):
    file_extension = "json"
    _write_mode = WriteMode.TEXT

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(snapshot_dir(test_location.item))

    @classmethod
    def discovery_dirname(cls, *, test_location: Any) -> str:
        return str(snapshot_dir(test_location.item))

    @classmethod
    def get_snapshot_name(cls, *, test_location: Any, index: Any = 0) -> str:
        # The scenario's name is the index: one file per scenario, shared by backends.
        return str(index)

    def serialize(self, data: Any, **kwargs: Any) -> str:
        return data.decode() if isinstance(data, bytes) else str(data)


def assert_matches(document: bytes, snapshot: Any, name: str) -> None:
    """The scenario's snapshot document equals the stored `<name>.json` (syrupy's diff if not)."""
    assert document == snapshot(extension_class=ScenarioSnapshotExtension, name=name)
