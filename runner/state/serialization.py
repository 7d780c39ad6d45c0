"""State <-> JSON, exactly: Decimals as strings, datetimes as ISO-8601, keys sorted.

msgspec encodes the dataclasses directly and validates on the way back in, so a state
file either round-trips to an equal object or fails with the path of the bad field.

The errors of reading and writing state files are drawn in `runner/state/errors.py`:
`StateFormatError` (raised here) is the root of the ones a bad file causes.
"""

from __future__ import annotations

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
_decoder = msgspec.json.Decoder(State)


def encode_state(state: State, *, pretty: bool = False) -> bytes:
    data = _encoder.encode(state)
    return msgspec.json.format(data, indent=2) + b"\n" if pretty else data


def decode_state(data: bytes, source: str = "<bytes>") -> State:
    try:
        head = msgspec.json.decode(data, type=dict[str, Any])
    except DECODE_ERRORS as exc:
        raise StateFormatError(f"{source}: not a JSON state file: {exc}", source) from None
    version = head.get("schema_version")
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
