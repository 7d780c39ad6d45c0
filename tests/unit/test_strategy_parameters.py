"""Typed strategy parameters: validated, overridable, documented in the README."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import runner.strategies.momentum as momentum
import runner.strategies.rebalance as rebalance
from runner.strategy.loader import StrategyLoadError, load_strategy
from runner.strategy.parameters import (
    NoParameters,
    ParameterError,
    StrategyParameters,
    parameter,
    render_parameter_table,
    validate_parameters,
    with_override,
)

ROOT = Path(__file__).resolve().parents[2]


class TestValidation:
    """Values as written become exact Decimals; mistakes are named with a suggestion."""

    def test_percent_and_fraction_are_the_same(self) -> None:
        assert validate_parameters(rebalance.Parameters, {"cash_buffer": "5%"}).cash_buffer == Decimal("0.05")
        assert validate_parameters(rebalance.Parameters, {"cash_buffer": Decimal("0.05")}).cash_buffer == Decimal("0.05")
        assert validate_parameters(rebalance.Parameters, {"cash_buffer": "0.05"}).cash_buffer == Decimal("0.05")

    def test_defaults(self) -> None:
        params = validate_parameters(momentum.Parameters, {})
        assert (params.lookback, params.stop_loss, params.take_profit) == (3, Decimal("0.1"), None)

    def test_errors_name_every_problem(self) -> None:
        with pytest.raises(ParameterError) as info:
            validate_parameters(rebalance.Parameters, {"wieghts": {}, "tolerance": "-1%", "min_trade": 0.5})
        assert str(info.value).splitlines() == [
            "parameters.tolerance: expected a non-negative percentage, found '-1%'",
            "parameters.min_trade: expected an amount like 10_000 or 0.5, found 0.5",
            "parameters.wieghts: expected one of the keys weights, cash_buffer, tolerance, min_trade, "
            "found unknown key 'wieghts' (did you mean 'weights'?)",
        ]

    def test_assets_are_checked_when_known(self) -> None:
        assert validate_parameters(rebalance.Parameters, {"weights": {"X": "1"}}).weights == {"X": Decimal(1)}
        with pytest.raises(ParameterError) as info:
            validate_parameters(rebalance.Parameters, {"weights": {"WEHT": "1"}}, assets=["WETH"])
        assert str(info.value) == (
            "parameters.weights.WEHT: expected a token the strategy trades (WETH), found 'WEHT' (did you mean 'WETH'?)"
        )

    def test_rule_spanning_parameters(self) -> None:
        with pytest.raises(ParameterError) as info:
            validate_parameters(rebalance.Parameters, {"weights": {"A": "70%", "B": "40%"}})
        assert str(info.value) == "parameters.weights: expected weights summing to at most 100%, found weights summing to 110%"

    def test_frozen(self) -> None:
        params = validate_parameters(rebalance.Parameters, {})
        with pytest.raises(ValueError):
            params.tolerance = Decimal(1)  # type: ignore[misc]


class TestOverride:
    """with_override: one parameter changed, the whole set validated again."""

    def test_override(self) -> None:
        base = validate_parameters(rebalance.Parameters, {"cash_buffer": "5%"})
        changed = with_override(base, "tolerance", "1%")
        assert (changed.cash_buffer, changed.tolerance, base.tolerance) == (Decimal("0.05"), Decimal("0.01"), Decimal("0.02"))

    def test_unknown_name(self) -> None:
        base = validate_parameters(rebalance.Parameters, {})
        with pytest.raises(ParameterError) as info:
            with_override(base, "tolerence", "1%")
        assert str(info.value) == (
            "parameters.tolerence: expected a parameter (weights, cash_buffer, tolerance, min_trade), "
            "found unknown parameter 'tolerence' (did you mean 'tolerance'?)"
        )

    def test_bad_value(self) -> None:
        base = validate_parameters(momentum.Parameters, {})
        with pytest.raises(ParameterError) as info:
            with_override(base, "lookback", "3")
        assert str(info.value) == "parameters.lookback: expected an integer, found '3'"


class TestLoader:
    """decide_trades receives the validated Parameters instance, never the runner's dict."""

    def test_decide_trades_gets_the_instance(self, monkeypatch: pytest.MonkeyPatch) -> None:
        seen: list[Any] = []
        monkeypatch.setattr(rebalance, "decide_trades", lambda *args: seen.append(args[-1]) or [])
        strategy = load_strategy("runner.strategies.rebalance")
        now = datetime(2024, 1, 1, tzinfo=UTC)
        strategy.decide_trades(now, None, None, None, {"cash_buffer": "10%"})
        strategy.decide_trades(now, None, None, None, {"cash_buffer": "10%", "tolerance": "1%"})
        assert [type(p) for p in seen] == [rebalance.Parameters, rebalance.Parameters]
        assert (seen[0].cash_buffer, seen[1].tolerance) == (Decimal("0.1"), Decimal("0.01"))
        assert strategy.Parameters is rebalance.Parameters

    def test_the_engines_rng_is_not_a_parameter(self) -> None:
        strategy = load_strategy("runner.strategies.rebalance")
        with pytest.raises(ParameterError, match="unknown key '_rng'"):
            strategy.decide_trades(None, None, None, None, {"_rng": object()})

    def test_not_a_strategy(self) -> None:
        with pytest.raises(StrategyLoadError) as info:
            load_strategy("runner.strategy")
        assert info.value.reason == "it has no decide_trades(timestamp, universe, state, pricing, parameters)"

    def test_module_failing_at_import(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (tmp_path / "broken_strategy.py").write_text("raise RuntimeError('boom')\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        with pytest.raises(StrategyLoadError) as info:
            load_strategy("broken_strategy")
        assert info.value.reason == "cannot import it: RuntimeError: boom"

    def test_without_a_parameters_class(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (tmp_path / "bare_strategy.py").write_text("def decide_trades(*args):\n    return [args[-1]]\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        strategy = load_strategy("bare_strategy")
        assert strategy.Parameters is NoParameters
        assert strategy.decide_trades(None, None, None, None, {}) == [NoParameters()]


class TestDocumentation:
    """Every parameter is documented with unit and default, and the README says the same."""

    def test_field_without_unit_is_refused(self) -> None:
        with pytest.raises(TypeError, match="needs a description and a unit"):

            class Bad(StrategyParameters):
                x: int = 1

        class Good(StrategyParameters):
            x: int = parameter(1, "An x.", unit="things")

        assert "x" in Good.model_fields

    @pytest.mark.parametrize("module", [rebalance, momentum], ids=lambda m: m.__name__)
    def test_readme_table_matches_the_model(self, module: Any) -> None:
        """The README embeds render_parameter_table verbatim under the module's heading."""
        readme = (ROOT / "README.md").read_text()
        section = re.search(rf"`{re.escape(module.__name__)}`[^\n]*\n\n(\|.*?)\n\n", readme, re.S)
        assert section is not None, f"no parameter table for {module.__name__} in README.md"
        assert section.group(1) == render_parameter_table(module.Parameters)
