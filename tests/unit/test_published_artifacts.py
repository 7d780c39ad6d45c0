"""The committed Uniswap artifacts are the pinned npm packages' published builds, unchanged.

They are copied (never compiled) by `fixtures/published.mjs` so the harness runs without
node_modules; `fixtures/published.lock.json` records package, version, path and sha256 of
every source JSON. When node_modules is there, each copy is compared with the package's
file; when it is not, those comparisons skip and the self-consistency checks still run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from eth_hash.auto import keccak

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "fixtures" / "artifacts" / "uniswap"
LOCK = json.loads((ROOT / "fixtures" / "published.lock.json").read_text())
ENTRIES = sorted(LOCK["artifacts"].items())
EIP170_LIMIT = 24_576


def _committed(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "fixtures" / "artifacts" / f"{name}.json").read_text())


def _npm_file(entry: dict[str, str]) -> Path:
    package_dir = ROOT / "node_modules" / entry["package"]
    if not package_dir.is_dir():
        pytest.skip(f"{entry['package']} is not installed (node_modules absent): run `npm ci` to compare "
                    "the committed copy with the pinned package")
    installed = json.loads((package_dir / "package.json").read_text())["version"]
    if installed != entry["version"]:
        pytest.fail(f"node_modules has {entry['package']}@{installed}, the lock pins {entry['version']}: run `npm ci`")
    return package_dir / entry["path"]


def _code(doc: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(str(doc[key]).removeprefix("0x"))


class TestPublishedArtifacts:
    def test_lock_lists_exactly_the_committed_files(self) -> None:
        """No committed copy without provenance, no lock entry without a copy."""
        committed = {f"uniswap/{p.stem}" for p in OUT_DIR.glob("*.json")}
        assert committed == set(LOCK["artifacts"])

    def test_lock_versions_are_the_pinned_ones(self) -> None:
        """package.json pins exact versions; package-lock.json resolves the same ones."""
        dev = json.loads((ROOT / "package.json").read_text())["devDependencies"]
        resolved = json.loads((ROOT / "package-lock.json").read_text())["packages"]
        for package, version in LOCK["packages"].items():
            assert dev[package] == version, f"package.json pins {package}@{dev[package]}, the lock {version}"
            assert resolved[f"node_modules/{package}"]["version"] == version
        assert {e["version"] for _, e in ENTRIES} <= set(LOCK["packages"].values())

    @pytest.mark.parametrize(("name", "entry"), ENTRIES, ids=[n for n, _ in ENTRIES])
    def test_copy_records_its_provenance(self, name: str, entry: dict[str, str]) -> None:
        doc = _committed(name)
        assert (doc["package"], doc["version"], doc["path"], doc["source_sha256"]) == (
            entry["package"], entry["version"], entry["path"], entry["sha256"])

    @pytest.mark.parametrize(("name", "entry"), ENTRIES, ids=[n for n, _ in ENTRIES])
    def test_copy_equals_the_pinned_package_file(self, name: str, entry: dict[str, str]) -> None:
        """Same bytes hashed as at copy time, and the same ABI and bytecode as the package's."""
        source = _npm_file(entry)
        raw = source.read_bytes()
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"], (
            f"{entry['package']}/{entry['path']} changed since it was copied: run `make contracts`")
        npm = json.loads(raw)
        deployed = npm["deployedBytecode"] if isinstance(npm.get("deployedBytecode"), str) \
            else npm["evm"]["deployedBytecode"]["object"]
        doc = _committed(name)
        assert doc["abi"] == npm["abi"]
        assert _code(doc, "bytecode") == bytes.fromhex(str(npm["bytecode"]).removeprefix("0x"))
        assert _code(doc, "deployed_bytecode") == bytes.fromhex(str(deployed).removeprefix("0x"))

    def test_router02_hard_codes_the_published_pair_init_code_hash(self) -> None:
        """pairFor() in Router02 computes CREATE2 addresses from this hash: a recompiled
        pair would have another hash and every swap would call an empty address."""
        pair_hash = keccak(_code(_committed("uniswap/UniswapV2Pair"), "bytecode"))
        assert pair_hash in _code(_committed("uniswap/UniswapV2Router02"), "bytecode")

    @pytest.mark.parametrize("name", ["SwapRouter", "QuoterV2", "NonfungiblePositionManager"])
    def test_v3_periphery_hard_codes_the_published_pool_init_code_hash(self, name: str) -> None:
        pool_hash = keccak(_code(_committed("uniswap/UniswapV3Pool"), "bytecode"))
        assert pool_hash.hex() == "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"  # mainnet's
        assert pool_hash in _code(_committed(f"uniswap/{name}"), "bytecode")

    @pytest.mark.parametrize(("name", "entry"), ENTRIES, ids=[n for n, _ in ENTRIES])
    def test_runtime_code_fits_eip170(self, name: str, entry: dict[str, str]) -> None:
        """py-evm and anvil enforce EIP-170 (24,576 bytes); every published contract fits,
        NonfungiblePositionManager (24,384) and UniswapV3Factory (24,535) narrowly."""
        assert len(_code(_committed(name), "deployed_bytecode")) <= EIP170_LIMIT
