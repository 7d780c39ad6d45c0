"""The package files the fixtures import (OpenZeppelin 5.x) are the pinned ones.

`fixtures/build.mjs` hashes every file solc pulls from node_modules into
`fixtures/imports.lock.json`. An artifact's own `source_sha256` cannot see a change in
OpenZeppelin (e.g. after a version bump without `make contracts`); this lock can.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = json.loads((ROOT / "fixtures" / "imports.lock.json").read_text())
PACKAGE = "@openzeppelin/contracts"
FILES = sorted(LOCK[PACKAGE]["files"].items())
_IMPORT = re.compile(r'import\s+[^;]*?"(@[^"]+)"\s*;')


class TestFixtureImports:
    def test_only_openzeppelin_is_imported(self) -> None:
        assert set(LOCK) == {PACKAGE}

    def test_lock_version_is_the_pinned_one(self) -> None:
        dev = json.loads((ROOT / "package.json").read_text())["devDependencies"]
        resolved = json.loads((ROOT / "package-lock.json").read_text())["packages"]
        version = LOCK[PACKAGE]["version"]
        assert dev[PACKAGE] == version
        assert resolved[f"node_modules/{PACKAGE}"]["version"] == version
        assert version.startswith("5.")

    def test_every_package_import_of_the_sources_is_locked(self) -> None:
        """A new import without a rebuild leaves the lock (and the artifacts) behind."""
        imported = {m for p in (ROOT / "fixtures" / "contracts").glob("*.sol") for m in _IMPORT.findall(p.read_text())}
        assert imported, "the vaults import OpenZeppelin"
        missing = imported - set(LOCK[PACKAGE]["files"])
        assert not missing, f"imported but not in fixtures/imports.lock.json (run `make contracts`): {sorted(missing)}"

    @pytest.mark.parametrize(("unit", "sha256"), FILES, ids=[u for u, _ in FILES])
    def test_locked_file_equals_node_modules(self, unit: str, sha256: str) -> None:
        package_dir = ROOT / "node_modules" / PACKAGE
        if not package_dir.is_dir():
            pytest.skip(f"{PACKAGE} is not installed (node_modules absent): run `npm ci` to compare")
        actual = hashlib.sha256((ROOT / "node_modules" / unit).read_bytes()).hexdigest()
        assert actual == sha256, f"{unit} differs from the one the artifacts were built with: run `make contracts`"
