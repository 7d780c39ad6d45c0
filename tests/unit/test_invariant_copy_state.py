"""`copy_state` is `decode_state(encode_state(state))`, and `decode_known_version` is
`decode_state`: the same state, or the same error.

It skips decode_state's untyped pass (which only reads schema_version) when the state in
memory carries the schema version this runner writes; every other state goes through
decode_state itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
import pytest

from harness.invariants.core import copy_state, decode_known_version
from runner.state import SCHEMA_VERSION, State, StateFormatError, decode_state, encode_state
from tests.statefiles import rich_states

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("index", range(len(rich_states(T0))))
def test_the_copy_is_the_round_trip(index: int) -> None:
    state = rich_states(T0)[index]
    copy = copy_state(state)
    assert encode_state(copy) == encode_state(decode_state(encode_state(state))) == encode_state(state)
    assert copy == decode_state(encode_state(state))
    assert copy is not state and copy.portfolio is not state.portfolio
    for mine, theirs in zip(copy.portfolio.all_trades(), state.portfolio.all_trades(), strict=True):
        assert mine is not theirs  # independent: a spare runner may change the copy


def _with_version(version: object) -> State:
    state = rich_states(T0)[-1]
    state.schema_version = version  # type: ignore[assignment]
    return state


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, str(SCHEMA_VERSION), None])
def test_another_schema_version_fails_as_decode_state_does(version: object) -> None:
    state = _with_version(version)
    with pytest.raises(StateFormatError) as theirs:
        decode_state(encode_state(state))
    with pytest.raises(StateFormatError) as mine:
        copy_state(state)
    assert str(mine.value) == str(theirs.value)


@pytest.mark.parametrize("version", [True, float(SCHEMA_VERSION)])
def test_a_version_equal_but_not_the_int_takes_decode_states_path(version: object) -> None:
    """True == 1 and 1.0 == 1: the untyped pass reads what the JSON says, so these are
    left to decode_state (its own verdict, whatever it is), not assumed to pass."""
    state = _with_version(version)
    try:
        expected: object = encode_state(decode_state(encode_state(state)))
    except StateFormatError as exc:
        expected = str(exc)
    try:
        got: object = encode_state(copy_state(state))
    except StateFormatError as exc:
        got = str(exc)
    assert got == expected


def test_a_value_the_typed_decode_refuses_fails_as_decode_state_does() -> None:
    state = rich_states(T0)[-1]
    state.name = 12  # type: ignore[assignment]  # encodes, and no State decodes it
    with pytest.raises(StateFormatError) as theirs:
        decode_state(encode_state(state))
    with pytest.raises(StateFormatError) as mine:
        copy_state(state)
    assert str(mine.value) == str(theirs.value)


def _outcome(decode: Callable[[], State]) -> object:
    try:
        return encode_state(decode())
    except StateFormatError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("version", [SCHEMA_VERSION, SCHEMA_VERSION + 1, str(SCHEMA_VERSION), True,
                                     float(SCHEMA_VERSION), None, "missing"])
def test_a_live_file_decodes_as_decode_state_decodes_it(version: object) -> None:
    """What state-round-trip does with the `state` of a live file it decoded untyped."""
    doc = msgspec.json.decode(encode_state(rich_states(T0)[-1]))
    if version == "missing":
        del doc["schema_version"]
    else:
        doc["schema_version"] = version
    data = msgspec.json.encode(doc)
    known = doc.get("schema_version")
    assert _outcome(lambda: decode_known_version(data, known, "f")) == _outcome(lambda: decode_state(data, "f"))


def test_a_live_state_the_typed_decode_refuses_fails_as_decode_state_does() -> None:
    doc = msgspec.json.decode(encode_state(rich_states(T0)[-1]))
    doc["portfolio"]["next_trade_id"] = "seven"
    data = msgspec.json.encode(doc)
    theirs = _outcome(lambda: decode_state(data, "f"))
    assert isinstance(theirs, str) and theirs.startswith("StateFormatError: f: ")
    assert _outcome(lambda: decode_known_version(data, SCHEMA_VERSION, "f")) == theirs
