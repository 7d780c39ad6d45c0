"""The example strategy tested from Python with the plugin's run_scenario fixture."""

from __future__ import annotations

from decimal import Decimal

import pytest
from my_strategies.hold import Parameters

from harness.pytest_plugin import RunScenario
from harness.result import RunResult


def test_project_option_is_its_own(request: pytest.FixtureRequest) -> None:
    """The project's --backend option coexists with the plugin's --dst-backend."""
    assert request.config.getoption("--backend") == "postgres"
    assert request.config.getoption("--dst-backend") is None


def test_hold_buys_once_and_keeps_it(run_scenario: RunScenario) -> None:
    """run_scenario runs the file on the chain and hands back the result to inspect."""
    result: RunResult = run_scenario("scenarios/hold-through-crash.yaml", backend="eth-tester")
    trades = list(result.state.portfolio.all_trades())
    assert [t.pair for t in trades] == ["WETH/USDC"]
    assert result.state.portfolio.nav() < Decimal(10_000)


def test_allocation_is_validated() -> None:
    """The strategy's parameters are a typed model: an allocation above 100% is refused."""
    with pytest.raises(ValueError, match="allocation"):
        Parameters.model_validate({"allocation": "150%"})
