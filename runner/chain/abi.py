"""Compiled fixture contracts: their ABIs as precomputed encoders and decoders.

Selectors, canonical types and event topics are computed once per artifact, so a call
on the hot path is one `eth_abi.encode` and one `eth_abi.decode`, nothing more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from eth_abi import decode, encode
from eth_hash.auto import keccak

ARTIFACTS_PACKAGE = "fixtures"  # the artifacts are its package data: fixtures/artifacts/<name>.json


class ArtifactError(LookupError):
    """A contract artifact or one of its members does not exist."""


def _canonical(param: dict[str, Any]) -> str:
    t = str(param["type"])
    if t.startswith("tuple"):
        inner = ",".join(_canonical(c) for c in param["components"])
        return f"({inner}){t[5:]}"
    return t


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode(self.inputs, args)

    def decode(self, data: bytes) -> tuple[Any, ...]:
        return tuple(decode(self.outputs, data))

    def decode_one(self, data: bytes) -> Any:
        return decode(self.outputs, data)[0]


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]  # (name, type)
    data: tuple[tuple[str, str], ...]

    def decode(self, topics: tuple[bytes, ...], data: bytes) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (name, typ), raw in zip(self.indexed, topics[1:], strict=True):
            out[name] = decode([typ], raw)[0]
        values = decode([t for _, t in self.data], data)
        for (name, _), value in zip(self.data, values, strict=True):
            out[name] = value
        return out


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    bytecode: bytes
    functions: dict[str, Function]
    events: dict[str, Event]
    source_sha256: str
    compiler: str

    def fn(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            raise ArtifactError(f"{self.name} has no function {name!r}") from None

    def event(self, name: str) -> Event:
        try:
            return self.events[name]
        except KeyError:
            raise ArtifactError(f"{self.name} has no event {name!r}") from None

    def deploy_data(self, *args: Any, types: tuple[str, ...] | None = None) -> bytes:
        ctor_types = types if types is not None else self.functions["constructor"].inputs if "constructor" in self.functions else ()
        return self.bytecode + (encode(ctor_types, args) if ctor_types else b"")


def parse_artifact(doc: dict[str, Any]) -> ContractArtifact:
    functions: dict[str, Function] = {}
    events: dict[str, Event] = {}
    for item in doc["abi"]:
        kind = item.get("type")
        if kind == "function":
            inputs = tuple(_canonical(p) for p in item["inputs"])
            outputs = tuple(_canonical(p) for p in item.get("outputs", []))
            sig = f"{item['name']}({','.join(inputs)})"
            f = Function(item["name"], keccak(sig.encode())[:4], inputs, outputs)
            functions.setdefault(item["name"], f)  # first overload by name
            functions[sig] = f
        elif kind == "constructor":
            inputs = tuple(_canonical(p) for p in item["inputs"])
            functions["constructor"] = Function("constructor", b"", inputs, ())
        elif kind == "event":
            sig = f"{item['name']}({','.join(_canonical(p) for p in item['inputs'])})"
            events[item["name"]] = Event(
                item["name"],
                keccak(sig.encode()),
                tuple((p["name"], _canonical(p)) for p in item["inputs"] if p.get("indexed")),
                tuple((p["name"], _canonical(p)) for p in item["inputs"] if not p.get("indexed")),
            )
    return ContractArtifact(
        name=doc["contract"],
        bytecode=bytes.fromhex(doc["bytecode"].removeprefix("0x")),
        functions=functions,
        events=events,
        source_sha256=doc.get("source_sha256", ""),
        compiler=doc.get("compiler", ""),
    )


def artifacts_dir() -> Traversable:
    """`fixtures/artifacts` as installed: a source checkout, an editable install or a wheel."""
    try:
        root = resources.files(ARTIFACTS_PACKAGE)
    except ModuleNotFoundError:
        raise ArtifactError(f"the package {ARTIFACTS_PACKAGE!r} with the contract artifacts is not installed "
                            "(reinstall dst-harness)") from None
    return root.joinpath("artifacts")


@cache
def artifact(name: str) -> ContractArtifact:
    """The compiled fixture contract `name` (fixtures/artifacts/<name>.json, package data)."""
    path = artifacts_dir().joinpath(*f"{name}.json".split("/"))
    if not path.is_file():
        raise ArtifactError(f"no compiled artifact fixtures/artifacts/{name}.json in {artifacts_dir()} "
                            "(in a checkout: `make contracts`; otherwise a `fixtures` package of your "
                            "project may shadow dst-harness's)")
    return parse_artifact(json.loads(path.read_text(encoding="utf-8")))
