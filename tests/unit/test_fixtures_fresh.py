"""Compiled artifacts match their Solidity sources (run `make contracts` when this fails)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = sorted((ROOT / "fixtures" / "artifacts").glob("*.json"))


class TestArtifacts:
    @pytest.mark.parametrize("artifact", ARTIFACTS, ids=lambda p: p.stem)
    def test_artifact_is_not_stale(self, artifact: Path) -> None:
        """The source hash recorded at build time equals the source file's hash now."""
        doc = json.loads(artifact.read_text())
        source = ROOT / doc["source"]
        actual = hashlib.sha256(source.read_bytes()).hexdigest()
        assert doc["source_sha256"] == actual, (
            f"{artifact.name} is stale against {doc['source']}: run `make contracts`"
        )

    def test_every_contract_has_an_artifact(self) -> None:
        """Each deployable contract the harness uses has been compiled."""
        names = {p.stem for p in ARTIFACTS}
        assert {
            "TestToken",
            "RebasingToken",
            "Factory",
            "Pair",
            "Router",
            "Vault",
            "FaultSwitch",
            "Multicall",
        } <= names

    def test_every_source_including_imports_matches_the_lock(self) -> None:
        """An artifact hashes only its own file; the lock covers imported files too."""
        lock = json.loads((ROOT / "fixtures" / "sources.lock.json").read_text())
        actual = {
            f"fixtures/contracts/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((ROOT / "fixtures" / "contracts").glob("*.sol"))
        }
        assert lock == actual, (
            "fixtures/contracts changed since the last build: run `make contracts`"
        )
