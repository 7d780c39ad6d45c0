"""Compiled fixture contracts: their ABIs as precomputed encoders and decoders.

Selectors, canonical types and event topics are computed once per artifact, so a call
on the hot path is one `eth_abi.encode` and one `eth_abi.decode`, nothing more.

Where every type of a signature is one 32-byte word (uintN, intN, address, bool, bytesN)
or a dynamic array of one (a swap's path, its amounts), the words are built or read here (`_word_encoder`, `_word_decoder`): eth_abi walks a
registry, validators and a stream for each value, about 0.1 ms a call, against a few
microseconds. The shortcut takes only what it is sure of (an exact `int` in range, 20
`bytes` of an address, zero padding, the canonical head-tail layout with nothing after it); anything else
goes to eth_abi itself, so the result, or the error raised, is always eth_abi's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
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


_MISS: Any = object()  # a word the shortcut leaves to eth_abi
_ZERO12 = bytes(12)
_ZERO31 = bytes(31)
_WORD_TYPE = re.compile(r"(u?int)(\d+)|bytes(\d+)|address|bool")
WordEncoder = Callable[[Any], bytes | None]
WordDecoder = Callable[[bytes], Any]
_address_words: dict[str, bytes] = {}  # str address -> its word, once eth_abi accepted it


def _word_type(t: str) -> tuple[str, int] | None:
    """(kind, size) of a one-word static type, None for anything else."""
    m = _WORD_TYPE.fullmatch(t)
    if m is None:
        return None
    if m[1]:
        bits = int(m[2])
        return (m[1], bits) if 8 <= bits <= 256 and bits % 8 == 0 else None
    if m[3]:
        n = int(m[3])
        return ("bytes", n) if 1 <= n <= 32 else None
    return (t, 0)


def _address_word_of_str(value: str) -> bytes | None:
    word = _address_words.get(value)
    if word is None:
        try:  # eth_abi decides what a str address is (hex, checksum): its word, remembered
            word = encode(("address",), (value,))
        except Exception:  # noqa: BLE001 - the full eth_abi call raises it again, as eth_abi does
            return None
        if len(_address_words) < 4096:
            _address_words[value] = word
    return word


def _word_encoder(t: str) -> WordEncoder | None:
    """The 32-byte head of `t`'s value as eth_abi encodes it, or None: ask eth_abi."""
    wt = _word_type(t)
    if wt is None:
        return None
    kind, size = wt
    if kind == "uint":
        limit = 1 << size

        def enc_uint(v: Any) -> bytes | None:
            return v.to_bytes(32, "big") if type(v) is int and 0 <= v < limit else None
        return enc_uint
    if kind == "int":
        half = 1 << (size - 1)

        def enc_int(v: Any) -> bytes | None:
            return v.to_bytes(32, "big", signed=True) if type(v) is int and -half <= v < half else None
        return enc_int
    if kind == "address":
        def enc_address(v: Any) -> bytes | None:
            if type(v) is bytes:
                return _ZERO12 + v if len(v) == 20 else None
            return _address_word_of_str(v) if type(v) is str else None
        return enc_address
    if kind == "bool":
        def enc_bool(v: Any) -> bytes | None:
            return (_ZERO31 + b"\x01" if v else _ZERO31 + b"\x00") if type(v) is bool else None
        return enc_bool
    pad = bytes(32 - size)

    def enc_bytes(v: Any) -> bytes | None:
        return v + pad if type(v) is bytes and len(v) == size else None
    return enc_bytes


def _word_decoder(t: str) -> WordDecoder | None:
    """`t`'s value from its 32-byte head as eth_abi (strict) decodes it, or _MISS: ask eth_abi."""
    wt = _word_type(t)
    if wt is None:
        return None
    kind, size = wt
    if kind == "uint":
        limit = 1 << size

        def dec_uint(w: bytes) -> Any:
            v = int.from_bytes(w, "big")
            return v if v < limit else _MISS
        return dec_uint
    if kind == "int":
        half = 1 << (size - 1)

        def dec_int(w: bytes) -> Any:
            v = int.from_bytes(w, "big", signed=True)
            return v if -half <= v < half else _MISS
        return dec_int
    if kind == "address":
        def dec_address(w: bytes) -> Any:
            return "0x" + w[12:].hex() if w[:12] == _ZERO12 else _MISS  # eth_abi: to_normalized_address
        return dec_address
    if kind == "bool":
        def dec_bool(w: bytes) -> Any:
            if w[:31] != _ZERO31 or w[31] > 1:
                return _MISS
            return w[31] == 1
        return dec_bool
    pad = bytes(32 - size)

    def dec_bytes(w: bytes) -> Any:
        return w[:size] if w[size:] == pad else _MISS
    return dec_bytes


EncodePlan = tuple[tuple[bool, WordEncoder], ...]  # (a dynamic array of it, the word's encoder)
DecodePlan = tuple[tuple[bool, WordDecoder], ...]


def _encoders(types: tuple[str, ...]) -> EncodePlan | None:
    plan = []
    for t in types:
        array = t.endswith("[]")
        enc = _word_encoder(t[:-2] if array else t)
        if enc is None:
            return None
        plan.append((array, enc))
    return tuple(plan)


def _decoders(types: tuple[str, ...]) -> DecodePlan | None:
    plan = []
    for t in types:
        array = t.endswith("[]")
        dec = _word_decoder(t[:-2] if array else t)
        if dec is None:
            return None
        plan.append((array, dec))
    return tuple(plan)


def _encode_fast(plan: EncodePlan, args: tuple[Any, ...]) -> bytes | None:
    """The head-tail encoding of words and arrays of words, or None where eth_abi must decide."""
    heads: list[bytes] = []
    tails: list[bytes] = []
    tail_len = 32 * len(plan)  # a dynamic value's offset: the heads, then the tails before it
    for (array, enc), v in zip(plan, args, strict=True):
        if not array:
            w = enc(v)
            if w is None:
                return None
            heads.append(w)
            continue
        if type(v) is not list and type(v) is not tuple:
            return None
        words = [len(v).to_bytes(32, "big")]
        for x in v:
            w = enc(x)
            if w is None:
                return None
            words.append(w)
        tail = b"".join(words)
        heads.append(tail_len.to_bytes(32, "big"))
        tails.append(tail)
        tail_len += len(tail)
    return b"".join(heads) + b"".join(tails)


def _decode_fast(plan: DecodePlan, data: bytes) -> tuple[Any, ...] | None:
    """Words and arrays of words from their canonical head-tail layout (offsets in order, no
    gaps, nothing after), or None: any other layout, or a word eth_abi refuses, is eth_abi's."""
    n = len(data)
    if n < 32 * len(plan):
        return None
    out: list[Any] = []
    expected = 32 * len(plan)
    for i, (array, dec) in enumerate(plan):
        w = data[32 * i:32 * i + 32]
        if not array:
            v = dec(w)
            if v is _MISS:
                return None
            out.append(v)
            continue
        if int.from_bytes(w, "big") != expected or expected + 32 > n:
            return None
        count = int.from_bytes(data[expected:expected + 32], "big")
        first = expected + 32
        expected = first + 32 * count
        if expected > n:
            return None
        items = tuple(dec(data[k:k + 32]) for k in range(first, expected, 32))
        if _MISS in items:
            return None
        out.append(items)  # eth_abi decodes an array to a tuple
    return tuple(out) if expected == n else None


def encode_words(plan: EncodePlan | None, types: tuple[str, ...], args: tuple[Any, ...]) -> bytes:
    """eth_abi.encode(types, args), by the word plan where it holds."""
    if plan is not None and len(args) == len(plan):
        fast = _encode_fast(plan, args)
        if fast is not None:
            return fast
    return encode(types, args)


def decode_words(plan: DecodePlan | None, types: tuple[str, ...], data: bytes) -> tuple[Any, ...]:
    """eth_abi.decode(types, data), by the word plan where it holds."""
    if plan is not None and type(data) is bytes:
        fast = _decode_fast(plan, data)
        if fast is not None:
            return fast
    return tuple(decode(types, data))


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    _enc: EncodePlan | None = field(default=None, init=False, repr=False, compare=False)
    _dec: DecodePlan | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_enc", _encoders(self.inputs))
        object.__setattr__(self, "_dec", _decoders(self.outputs))

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode_words(self._enc, self.inputs, args)

    def decode(self, data: bytes) -> tuple[Any, ...]:
        return decode_words(self._dec, self.outputs, data)

    def decode_one(self, data: bytes) -> Any:
        return decode_words(self._dec, self.outputs, data)[0]


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]  # (name, type)
    data: tuple[tuple[str, str], ...]

    _topic_dec: tuple[DecodePlan | None, ...] = field(default=(), init=False, repr=False,
                                                                   compare=False)
    _data_types: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    _data_dec: DecodePlan | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_topic_dec", tuple(_decoders((t,)) for _, t in self.indexed))
        object.__setattr__(self, "_data_types", tuple(t for _, t in self.data))
        object.__setattr__(self, "_data_dec", _decoders(self._data_types))

    def decode(self, topics: tuple[bytes, ...], data: bytes) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for ((name, typ), plan), raw in zip(zip(self.indexed, self._topic_dec, strict=True), topics[1:], strict=True):
            out[name] = decode_words(plan, (typ,), raw)[0]
        values = decode_words(self._data_dec, self._data_types, data)
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
