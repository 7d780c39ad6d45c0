"""`copy_state` is `decode_state(encode_state(state))`: an equal, independent state; and
`decode_state` reads the schema version off the document before the typed decode,
refusing every version but this runner's, whatever the rest of the document holds.
`state_difference` names the first path at which two states differ, with both values
(what a check that compares a state with its copy says)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from harness.invariants.core import copy_state, first_difference, state_difference
from runner.state import SCHEMA_VERSION, State, StateFormatError, decode_state, encode_state
from tests.statefiles import rich_states

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("index", range(len(rich_states(T0))))
def test_the_copy_is_the_round_trip(index: int) -> None:
    state = rich_states(T0)[index]
    copy = copy_state(state)
    assert encode_state(copy) == encode_state(state)
    assert copy is not state and copy.portfolio is not state.portfolio
    for mine, theirs in zip(copy.portfolio.all_trades(), state.portfolio.all_trades(), strict=True):
        assert mine is not theirs  # independent: a spare runner may change the copy


def _doc(version: object) -> bytes:
    doc = msgspec.json.decode(encode_state(rich_states(T0)[-1]))
    if version == "missing":
        del doc["schema_version"]
    else:
        doc["schema_version"] = version
    return msgspec.json.encode(doc)


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, str(SCHEMA_VERSION), None, "missing"])
def test_another_schema_version_is_refused_by_name(version: object) -> None:
    shown = None if version == "missing" else version
    with pytest.raises(StateFormatError, match=rf"^f: schema_version {shown!r}, this runner reads {SCHEMA_VERSION}"):
        decode_state(_doc(version), "f")


def test_the_version_is_read_before_a_field_the_typed_decode_refuses() -> None:
    """A newer schema that also changed a field's type is refused for its version, the
    message that tells the reader what to do, not for the field."""
    doc = msgspec.json.decode(_doc(SCHEMA_VERSION + 1))
    doc["portfolio"]["next_trade_id"] = "seven"
    with pytest.raises(StateFormatError, match="schema_version"):
        decode_state(msgspec.json.encode(doc), "f")


def test_a_field_the_typed_decode_refuses_names_it() -> None:
    doc = msgspec.json.decode(_doc(SCHEMA_VERSION))
    doc["portfolio"]["next_trade_id"] = "seven"
    with pytest.raises(StateFormatError, match=r"^f: Expected `int`, got `str` - at `\$\.portfolio\.next_trade_id`"):
        decode_state(msgspec.json.encode(doc), "f")


@pytest.mark.parametrize("data", [b"[1, 2]", b"{\"schema_version\": 1", b"not json"])
def test_what_is_no_json_object_is_no_state_file(data: bytes) -> None:
    with pytest.raises(StateFormatError, match="^f: not a JSON state file: "):
        decode_state(data, "f")


def test_a_state_decodes_to_what_was_encoded() -> None:
    state: State = rich_states(T0)[-1]
    assert encode_state(decode_state(encode_state(state))) == encode_state(state)


def test_equal_states_have_no_difference() -> None:
    state = rich_states(T0)[-1]
    assert state_difference(state, copy_state(state)) is None


def test_the_first_difference_is_named_by_its_path_with_both_values() -> None:
    state = rich_states(T0)[-1]
    copy = copy_state(state)
    pos = next(iter(copy.portfolio.open_positions.values()))
    pos.frozen_at, pos.frozen_reason = (None, None) if pos.is_frozen else (T0, "frozen here")
    before = next(iter(state.portfolio.open_positions.values()))
    path, mine, theirs = state_difference(state, copy)  # type: ignore[misc]
    assert path == f"state.portfolio.open_positions.{pos.position_id}.frozen_at"
    assert (mine, theirs) == ((None, "2024-01-01T00:00:00Z") if not before.is_frozen
                              else (msgspec.json.decode(msgspec.json.encode(before.frozen_at)), None))


@pytest.mark.parametrize(("a", "b", "found"), [
    ({"x": 1, "y": [1, 2]}, {"x": 1, "y": [1, 3]}, ("state.y[1]", 2, 3)),
    ({"x": [1]}, {"x": [1, 2]}, ("state.x[1]", "<missing>", 2)),
    ({"x": 1}, {"x": 1, "z": {"w": 0}}, ("state.z", "<missing>", {"w": 0})),
    ({"x": {"a": 1, "b": 2}}, {"x": {"a": 9, "b": 8}}, ("state.x.a", 1, 9)),  # the first, in document order
    ({"x": "1"}, {"x": 1}, ("state.x", "1", 1)),
])
def test_first_difference(a: object, b: object, found: tuple[str, object, object]) -> None:
    assert first_difference(a, b) == found
    assert first_difference(a, a) is None
