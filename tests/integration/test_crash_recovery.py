"""A crash at any step of the tick, then a restart from the state file, ends where an
uninterrupted run ends: same positions, same quantities, same cash, same NAV."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.result import RunResult
from harness.scenario import load_scenario
from harness.scenario.model import CRASH_STEPS, CrashEvent, Scenario

ROOT = Path(__file__).resolve().parents[2]
CRASH_SCENARIOS = sorted((ROOT / "scenarios" / "crash").glob("crash-at-*.yaml"))


def _portfolio(result: RunResult) -> tuple[object, ...]:
    p = result.state.portfolio
    positions = tuple(
        (x.pair, x.quantity, x.is_open, x.is_frozen) for x in sorted(p.all_positions(), key=lambda x: x.position_id)
    )
    return (p.nav(), p.cash(), positions, result.state.cycle)


def _without_crashes(s: Scenario) -> Scenario:
    return s.model_copy(update={"timeline": tuple(e for e in s.timeline if not isinstance(e, CrashEvent))})


class TestCrashRecovery:
    def test_one_scenario_per_step(self) -> None:
        """Every named step of the tick has its crash scenario."""
        steps = {load_scenario(p).timeline[2].step for p in CRASH_SCENARIOS}  # type: ignore[attr-defined]
        assert steps == set(CRASH_STEPS)

    @pytest.mark.parametrize("path", CRASH_SCENARIOS, ids=lambda p: p.stem)
    def test_restart_ends_like_the_uninterrupted_run(self, path: Path, chain_pool: ChainPool) -> None:
        """The crashed-and-restarted run's portfolio equals the run without the crash."""
        scenario = load_scenario(path.relative_to(ROOT))
        crashed = ScenarioRun(scenario, backend="eth-tester", pool=chain_pool).run()
        clean = ScenarioRun(_without_crashes(scenario), backend="eth-tester", pool=chain_pool).run()
        assert crashed.crashes == 1 and clean.crashes == 0
        assert crashed.error is None
        assert _portfolio(crashed) == _portfolio(clean)

    @pytest.mark.parametrize("step,status", [("broadcast", "repaired"), ("confirm", "success")])
    def test_repair_is_idempotent(self, chain_pool: ChainPool, step: str, status: str) -> None:
        """Repair resolves the crashed cycle's trades once; a second repair changes nothing."""
        from decimal import Decimal

        from runner.chain.wallet import Wallet
        from runner.errors import SimulatedCrash
        from runner.runner import ChainStrategyRunner
        from runner.state import encode_state
        from tests.integration.worlds import make_bench

        b = make_bench(chain_pool)
        b.at(0)
        b.world.deposit("alice", Decimal(10_000))

        def die(name: str) -> None:
            if name == step:
                raise SimulatedCrash(name)

        b.runner.step_hook = die
        with pytest.raises(SimulatedCrash):
            b.tick(0)
        b.chain.mine()  # the chain goes on while the runner is dead
        state = b.store.load()
        assert [t.status.value for t in state.portfolio.all_trades()] == ["started", "started"]
        fresh = ChainStrategyRunner(
            chain=b.chain, universe=b.world.universe, strategy=b.runner.strategy, parameters={},
            asset_manager=Wallet.from_label("asset-manager"),
        )
        fixed = fresh.repair_state(state, b.at(0))
        assert sorted(t.status.value for t in fixed if not t.is_repair) == [status, status]
        once = encode_state(state)
        assert fresh.repair_state(state, b.at(0)) == []
        assert encode_state(state) == once


class TestResumeThatStops:
    """Fuzz found it: a restarted runner whose resume raised a RunnerError (an accounting
    abort, a balance check) escaped the engine as a traceback in process, and was ignored
    (the run went on) in the process host. It must stop the run, recorded, like a tick's."""

    def test_the_run_stops_with_the_resume_error(self, chain_pool: ChainPool, monkeypatch: pytest.MonkeyPatch) -> None:
        from runner.errors import PreflightCheckFailed
        from runner.runner import ChainStrategyRunner

        def refuse(self: ChainStrategyRunner, state: object, ts: object) -> list[object]:
            raise PreflightCheckFailed("planted: the state refuses to resume")

        monkeypatch.setattr(ChainStrategyRunner, "resume", refuse)
        scenario = load_scenario((ROOT / "scenarios" / "crash" / "crash-at-approve.yaml").relative_to(ROOT))
        result = ScenarioRun(scenario, backend="eth-tester", pool=chain_pool).run()
        assert result.crashes == 1
        assert result.error_kind == "PreflightCheckFailed"
        assert "planted" in (result.error or "")
        assert any("stopped while resuming: PreflightCheckFailed" in e for entry in result.journal for e in entry.events)
