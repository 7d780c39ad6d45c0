"""The JSON Schema is generated from the model, deterministic, and agrees with the loader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from harness.scenario import (
    EVENT_TYPES,
    EXPECTATION_TYPES,
    AccountingSpec,
    AdoptSpec,
    ChainSpec,
    ClockSpec,
    InvariantsSpec,
    PoolSpec,
    Scenario,
    SkippedInvariant,
    StrategySpec,
    TokenSpec,
    UniswapV2Adoption,
    UniswapV3Adoption,
    UniverseSpec,
    VaultSpec,
    render_template,
    scenario_json_schema,
)
from harness.scenario.yamlnodes import compose_text, to_plain

# Kept in step with test_scenario_parsing.EXAMPLE (test modules are not a package here).
EXAMPLE = """\
name: rebase-while-holding
description: A 1% positive rebase while the strategy holds the rebasing token.
seed: 7
clock: {start: 2024-01-01T00:00:00Z, cycle: 1d, trigger_checks: 1h, until: 10d}
chain: {backend: eth-tester}
universe:
  reserve: USDC
  tokens: {USDC: {decimals: 6}, WETH: {decimals: 18}, stETH: {decimals: 18, rebasing: true}}
  pools:
    - {pair: WETH/USDC, price: 2000, depth: 2_000_000, fee: 0.30%}
    - {pair: stETH/USDC, price: 2000, depth: 1_000_000}
strategy: {module: runner.strategies.rebalance, parameters: {weights: {WETH: 0.5, stETH: 0.5}}}
accounting: {checks: true, tolerance: 0.000001}
timeline:
  - {at: 0s, deposit: {amount: 10_000, by: alice}}
  - {at: 1d12h, rebase: {token: stETH, change: +1%}}
  - {at: 2d, price_shock: {pair: WETH/USDC, move: -30%}}
  - {at: 3d, fail_next_trade: {pair: WETH/USDC, mode: revert, reason: SLIPPAGE}}
  - {at: 4d, withdraw: {shares: 50%, by: alice}}
  - {at: 5d, external_transfer: {token: WETH, amount: -0.5}}
expect:
  - {at: 2d, position: {pair: WETH/USDC, closed_by: stop_loss}}
  - {at: 5d, accounting: {outcome: mismatch, asset: WETH}}
"""


def as_data(text: str) -> Any:
    """YAML text as the plain values the loader sees (Decimals, not floats)."""
    root, errors = compose_text(text, "t.yaml")
    assert errors == []
    return to_plain(root)


def walk(node: Any) -> Iterator[Any]:
    """Every value nested anywhere in a JSON-like structure."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.fixture(scope="module")
def validator() -> Any:
    """A draft 2020-12 validator for the generated schema (skips without jsonschema)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


class TestSchemaShape:
    """The schema's structure follows the model without needing a validator."""

    def test_dialect_and_no_id(self) -> None:
        """The schema declares draft 2020-12 and carries no $id."""
        schema = scenario_json_schema()
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert "$id" not in schema
        assert schema["required"] == ["name", "description", "clock", "universe", "strategy"]

    def test_deterministic_and_json_only(self) -> None:
        """Two generations serialise identically and contain no floats or Decimals."""
        first, second = scenario_json_schema(), scenario_json_schema()
        assert json.dumps(first) == json.dumps(second)
        assert not [v for v in walk(first) if isinstance(v, float)]
        assert list(first["$defs"]) == sorted(first["$defs"])

    @pytest.mark.parametrize(
        "cls",
        [
            Scenario,
            ClockSpec,
            ChainSpec,
            UniverseSpec,
            TokenSpec,
            PoolSpec,
            AdoptSpec,
            UniswapV2Adoption,
            UniswapV3Adoption,
            StrategySpec,
            AccountingSpec,
        ],
    )
    def test_every_field_is_documented(self, cls: type) -> None:
        """Each YAML field is a property with a title and description; no extra keys allowed."""
        schema = scenario_json_schema()
        target = schema if cls is Scenario else schema["$defs"][cls.__name__]
        assert target["additionalProperties"] is False
        assert list(target["properties"]) == cls.yaml_keys()
        for prop in target["properties"].values():
            assert prop["title"] and prop["description"]

    def test_source_and_line_are_not_yaml(self) -> None:
        """Loader-filled fields never appear in the schema."""
        schema = scenario_json_schema()
        assert "source" not in schema["properties"]
        assert "line" not in json.dumps(schema["$defs"]["Event"])

    def test_events_are_single_key_objects(self) -> None:
        """Each event option requires ``at`` and exactly its own kind key."""
        options = scenario_json_schema()["$defs"]["Event"]["oneOf"]
        assert [option["title"] for option in options] == [cls.kind for cls in EVENT_TYPES]
        for option, cls in zip(options, EVENT_TYPES, strict=True):
            assert option["required"] == ["at", cls.kind]
            assert list(option["properties"]) == ["at", cls.kind]
            assert option["additionalProperties"] is False

    def test_expectations_accept_end(self) -> None:
        """Expectation times accept ``end``; event times do not."""
        defs = scenario_json_schema()["$defs"]
        expect_at = defs["Expectation"]["oneOf"][0]["properties"]["at"]["anyOf"]
        event_at = defs["Event"]["oneOf"][0]["properties"]["at"]["anyOf"]
        assert {"const": "end"} in expect_at
        assert {"const": "end"} not in event_at
        assert len(defs["Expectation"]["oneOf"]) == len(EXPECTATION_TYPES)

    def test_every_model_class_has_a_definition(self) -> None:
        """Every dataclass reachable from Scenario, and nothing else, is in $defs."""
        specs = (
            ClockSpec,
            ChainSpec,
            UniverseSpec,
            TokenSpec,
            PoolSpec,
            AdoptSpec,
            UniswapV2Adoption,
            UniswapV3Adoption,
            StrategySpec,
            VaultSpec,
            AccountingSpec,
            InvariantsSpec,
            SkippedInvariant,
        )
        kinds = (*EVENT_TYPES, *EXPECTATION_TYPES)
        expected = {cls.__name__ for cls in (*specs, *kinds)} | {"Event", "Expectation"}
        assert set(scenario_json_schema()["$defs"]) == expected


class TestSchemaValidation:
    """A real validator accepts what the loader accepts and rejects unknown keys."""

    def test_example_validates(self, validator: Any) -> None:
        """The example scenario is valid under the schema."""
        assert [e.message for e in validator.iter_errors(as_data(EXAMPLE))] == []

    def test_template_validates(self, validator: Any) -> None:
        """The ``harness new`` template is valid under the schema."""
        data = as_data(render_template("x"))
        assert [e.message for e in validator.iter_errors(data)] == []

    def test_empty_timeline_accepted(self, validator: Any) -> None:
        """A null timeline, which the loader reads as empty, is valid too."""
        data = as_data(EXAMPLE.split("timeline:")[0] + "timeline:\nexpect:\n")
        assert [e.message for e in validator.iter_errors(data)] == []

    def test_unknown_key_rejected(self, validator: Any) -> None:
        """A misspelt clock key is rejected, as the loader rejects it."""
        data = as_data(EXAMPLE.replace("trigger_checks: 1h", "trigger_check: 1h"))
        messages = [e.message for e in validator.iter_errors(data)]
        assert messages == [
            "Additional properties are not allowed ('trigger_check' was unexpected)"
        ]

    def test_unknown_event_kind_rejected(self, validator: Any) -> None:
        """An entry whose kind is unknown matches no event option."""
        data = as_data(EXAMPLE.replace("deposit: {", "deposti: {"))
        assert not validator.is_valid(data)

    def test_price_shock_needs_exactly_one(self, validator: Any) -> None:
        """Both move and price, or neither, is rejected."""
        both = as_data(EXAMPLE.replace("move: -30%", "move: -30%, price: 1"))
        neither = as_data(EXAMPLE.replace(", move: -30%", ""))
        assert not validator.is_valid(both)
        assert not validator.is_valid(neither)

    def test_bad_duration_rejected(self, validator: Any) -> None:
        """A duration the loader refuses is refused by the schema too."""
        assert not validator.is_valid(as_data(EXAMPLE.replace("cycle: 1d", "cycle: 1x")))
