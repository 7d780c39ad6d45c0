"""The SIGKILL campaign in small: six seeded kills of the runner process across the 30-day
scenario, each restart ending in the uninterrupted run's portfolio and trades, every state
file loading. (`make crash-campaign` runs 50; this keeps the suite fast.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from harness.chains import ChainPool
from harness.crash_campaign import DEFAULT_SCENARIO, plan, run_campaign
from harness.scenario import load_scenario


@pytest.mark.anvil
def test_six_seeded_kills_end_like_the_uninterrupted_run(chain_pool: ChainPool) -> None:
    report = run_campaign(DEFAULT_SCENARIO, kills=6, backend="anvil", seed=1, pool=chain_pool)
    assert len(report.results) == 6
    assert [r.crashes for r in report.results] == [1] * 6, report.lines()  # each run really killed once
    assert all(r.same_portfolio and r.same_trades for r in report.results), report.lines()
    assert all(r.state_loads and r.violations == 0 and r.error is None for r in report.results), report.lines()
    assert all(r.where for r in report.results)  # each died at a kill point the journal names
    assert report.passed


def test_the_plan_is_the_seeds() -> None:
    """Same seed, same kills; another seed, other kills; every kill at a tick before the end."""
    scenario = load_scenario(DEFAULT_SCENARIO)
    a, b, c = plan(scenario, 50, 1), plan(scenario, 50, 1), plan(scenario, 50, 2)
    assert a == b and a != c
    assert all(k.at < scenario.clock.until and k.at % scenario.clock.cycle == timedelta(0) for k in a)
    assert len({(k.at, k.within) for k in a}) > 40
    busy = plan(scenario, 10, 1, trading=(timedelta(days=3),))
    assert [k.at for k in busy[1::2]] == [timedelta(days=3)] * 5  # every other kill where trades happen
    assert all(1 <= k.within <= 120 for k in busy[1::2])


def test_random_kills_end_like_the_run_without_them(chain_pool: ChainPool) -> None:
    """The bundled random-kill scenario (three seeded kill points) against itself without crashes."""
    from harness.crash_campaign import final_portfolio, successful_trades
    from harness.engine import ScenarioRun
    from harness.scenario.model import CrashEvent
    from tests.integration.test_crash_recovery import ROOT

    scenario = load_scenario(ROOT / "scenarios" / "crash" / "random-kills.yaml")
    clean = scenario.model_copy(update={"timeline": tuple(e for e in scenario.timeline if not isinstance(e, CrashEvent))})
    killed, plain = (ScenarioRun(s, backend="revm", pool=chain_pool).run() for s in (scenario, clean))
    assert killed.crashes == 3 and plain.crashes == 0
    assert final_portfolio(killed) == final_portfolio(plain)
    assert successful_trades(killed) == successful_trades(plain)
