"""State <-> JSON, exactly: Decimals as strings, datetimes as ISO-8601, keys sorted.

msgspec encodes the dataclasses directly and validates on the way back in, so a state
file either round-trips to an equal object or fails with the path of the bad field.

The errors of reading and writing state files are drawn in `runner/state/errors.py`:
`StateFormatError` (raised here) is the root of the ones a bad file causes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from runner.state.errors import StateFormatError
from runner.state.state import SCHEMA_VERSION, State

# Field order is the dataclass definition order and dict order is insertion order,
# both fixed by the code path, so the bytes are reproducible without sorting.
_encoder = msgspec.json.Encoder(decimal_format="string")
# What decoding untrusted bytes can raise: msgspec's own errors, and RecursionError for
# JSON nested deeper than msgspec follows (a thousand `[` are enough).
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
MAX_NESTING = 1000  # levels of JSON nesting a state file may have (it has fewer than 20)


@contextmanager
def bounded_nesting(levels: int = MAX_NESTING) -> Iterator[None]:
    """Decode untrusted JSON with at most `levels` of nesting, whatever the recursion limit.

    msgspec follows nesting as deep as the interpreter's recursion limit, and py-evm's
    dependencies raise that limit to 100,000: a state file of 100,000 `[` would then
    overflow the C stack (a segfault, not an error). Within this block the limit is
    `levels` above the current depth, so such a file raises RecursionError instead."""
    old = sys.getrecursionlimit()
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    sys.setrecursionlimit(min(old, depth + levels))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
_decoder = msgspec.json.Decoder(State)


def encode_state(state: State, *, pretty: bool = False) -> bytes:
    data = _encoder.encode(state)
    return msgspec.json.format(data, indent=2) + b"\n" if pretty else data


def decode_state(data: bytes, source: str = "<bytes>") -> State:
    with bounded_nesting():
        return _decode_state(data, source)


class _Version(msgspec.Struct):
    """The one field read before the typed decode: which schema wrote the document."""

    schema_version: Any = None


_version = msgspec.json.Decoder(_Version)  # skips the rest unbuilt: a third of an untyped decode


def _decode_state(data: bytes, source: str) -> State:
    try:
        version = _version.decode(data).schema_version
    except DECODE_ERRORS as exc:
        raise StateFormatError(f"{source}: not a JSON state file: {exc}", source) from None
    if version != SCHEMA_VERSION:
        raise StateFormatError(f"{source}: schema_version {version!r}, this runner reads {SCHEMA_VERSION}; "
                               "use the runner version that wrote it", source)
    try:
        return _decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise StateFormatError(f"{source}: {exc}", source) from None


def to_builtins(obj: Any) -> Any:
    """Plain JSON-ready structures (for snapshots and reports), amounts as strings."""
    return msgspec.to_builtins(obj, str_keys=True)
