"""A SIGKILL campaign: the runner killed at many seeded instants of one long scenario.

Each kill is one run of the scenario with one `crash: {at_random: true, within: W}` added
at a tick drawn from the campaign seed (every other one at a tick where the uninterrupted
run traded) (its kill point then drawn from the scenario seed,
as every random crash is): on anvil the runner is a real child process, killed by its own
SIGKILL mid-step, mid-request or mid-save, and restarted as a new process from its state
file. Every killed run is compared with the uninterrupted run of the same scenario:

    same final portfolio   NAV, cash, every position's pair, quantity, open/frozen, cycles
    no trade lost/doubled  the successful trades (time, pair, side, quantity) are the same
    state file loads       the killed run's state file loads again after the run
    invariants             no violation (trades match the chain, booked once, ...)

    python -m harness.crash_campaign                      50 kills, anvil, main-rebalance-30d
    python -m harness.crash_campaign --kills 6 --backend revm --seed 3

(`make crash-campaign`). Nothing here reads a clock but the report's timings, which never
enter a comparison. A kill whose drawn point lies beyond the run's last kill point (the
run ended first) is counted as `missed`, never as a pass.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from harness.chains import ChainPool
from harness.engine import ScenarioRun
from harness.result import RunResult
from harness.scenario import load_scenario
from harness.scenario.model import CrashEvent, Scenario
from harness.scenario.quantities import format_duration
from runner.state import SegmentedStateStore, TradeStatus

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "main-rebalance-30d.yaml"
DEFAULT_KILLS = 50
DEFAULT_WITHIN = 60
"""Kill points a crash is drawn among (CrashEvent's default): a trading tick has about that many."""
BASELINE_RUNS = 3
"""Uninterrupted runs timed (after a warm-up); their median is the cost a kill adds to."""
CAMPAIGN_LINE = 100_000
"""Line numbers of the added crash events (past any real line): they seed the kill point."""

Portfolio = tuple[object, ...]
Trades = tuple[tuple[str, str, str, Decimal], ...]


def final_portfolio(result: RunResult) -> Portfolio:
    """What 'the same final portfolio' compares: NAV, cash, positions, cycles."""
    p = result.state.portfolio
    positions = tuple((x.pair, x.quantity, x.is_open, x.is_frozen)
                      for x in sorted(p.all_positions(), key=lambda x: x.position_id))
    return (p.nav(), p.cash(), positions, result.state.cycle)


def successful_trades(result: RunResult) -> Trades:
    """Every trade that changed the portfolio, by when, what and how much (ids may differ:
    a trade repaired after a kill is redone under a new id)."""
    trades = [t for t in result.state.portfolio.all_trades() if t.status == TradeStatus.success and not t.is_repair]
    return tuple(sorted((t.executed_at.isoformat() if t.executed_at else "", t.pair, str(t.side),
                         t.executed_quantity or Decimal(0)) for t in trades))


@dataclass(frozen=True)
class Kill:
    """One planned kill: the tick it is armed at and how many kill points it is drawn among."""

    index: int
    at: timedelta
    within: int

    def event(self) -> CrashEvent:
        return CrashEvent.model_construct(at=self.at, step=None, at_random=True, within=self.within,
                                          line=CAMPAIGN_LINE + self.index)


@dataclass(frozen=True)
class KillResult:
    kill: Kill
    crashes: int  # kills that happened in the run (0: the drawn point was never reached)
    where: str  # the kill point the runner died at, as the journal says
    same_portfolio: bool
    same_trades: bool
    state_loads: bool
    violations: int
    error: str | None
    seconds: float  # wall time of the run; report only (float-ok: seconds, not money)

    @property
    def passed(self) -> bool:
        return (self.crashes > 0 and self.same_portfolio and self.same_trades and self.state_loads
                and not self.violations and self.error is None)


@dataclass
class CampaignReport:
    scenario: str
    backend: str
    seed: int
    baseline_seconds: float  # float-ok: seconds, not money
    results: list[KillResult] = field(default_factory=list)

    @property
    def killed(self) -> list[KillResult]:
        return [r for r in self.results if r.crashes > 0]

    def ms_per_kill(self) -> float:  # float-ok: seconds, not money
        """Extra wall time a kill and its restart cost: the median killed run against the
        median uninterrupted one."""
        killed = self.killed
        if not killed:
            return 0.0
        # medians: the machine's load swings single runs by more than a kill costs
        extra = statistics.median(r.seconds for r in killed) - self.baseline_seconds
        return 1000 * extra / statistics.median(r.crashes for r in killed)

    def lines(self) -> list[str]:
        killed = self.killed
        out = [f"crash campaign: {self.scenario} on {self.backend}, seed {self.seed}: {len(self.results)} runs"]
        for r in self.results:
            verdict = "ok" if r.passed else ("missed" if r.crashes == 0 else "FAIL")
            flags = (f"portfolio={'same' if r.same_portfolio else 'DIFF'} trades={'same' if r.same_trades else 'DIFF'} "
                     f"loads={'yes' if r.state_loads else 'NO'} violations={r.violations}")
            out.append(f"  kill {r.kill.index:3d} at {format_duration(r.kill.at):>6} within {r.kill.within:3d}: "
                       f"{verdict:6} died at {r.where or '-':28} {flags}" + (f" error={r.error}" if r.error else ""))
        same = sum(1 for r in killed if r.same_portfolio and r.same_trades)
        out.append(f"kills: {sum(r.crashes for r in killed)} in {len(killed)} runs ({len(self.results) - len(killed)} "
                   f"missed); same final portfolio and trades: {same}/{len(killed)}; state file loads: "
                   f"{sum(1 for r in killed if r.state_loads)}/{len(killed)}; "
                   f"{self.ms_per_kill():.0f} ms per kill+restart (median killed run "
                   f"{statistics.median(r.seconds for r in killed) if killed else 0:.2f} s, uninterrupted "
                   f"{self.baseline_seconds:.2f} s)")
        return out

    @property
    def passed(self) -> bool:
        return bool(self.killed) and all(r.passed for r in self.killed)


def plan(scenario: Scenario, kills: int, seed: int, within: int = DEFAULT_WITHIN,
         trading: tuple[timedelta, ...] = ()) -> list[Kill]:
    """`kills` ticks drawn from the seed (with repeats: another line draws another point).

    Most ticks of a long run only read (sync, check, revalue), so uniform draws seldom die
    mid-trade. With `trading` (the ticks where the uninterrupted run traded), every other
    kill is at one of those, drawn among twice as many points, so it reaches past the reads
    into signing, the write-ahead save, broadcasts and confirmations.
    """
    rng = random.Random(f"crash-campaign:{seed}")
    cycle, until = scenario.clock.cycle, scenario.clock.until
    ticks = [cycle * i for i in range(until // cycle)]  # the last tick has nothing after it to compare
    busy = [t for t in trading if t in ticks]
    out = []
    for i in range(kills):
        if busy and i % 2:
            out.append(Kill(i, rng.choice(busy), rng.randint(1, 2 * within)))
        else:
            out.append(Kill(i, rng.choice(ticks), rng.randint(1, within)))
    return out


def _timed(run: Callable[[], RunResult]) -> tuple[RunResult, float]:
    started = time.monotonic()  # dst-ok: the report's timings only
    result = run()
    return result, time.monotonic() - started  # dst-ok


def run_campaign(path: Path, *, kills: int = DEFAULT_KILLS, backend: str = "anvil", seed: int = 0,
                 within: int = DEFAULT_WITHIN, pool: ChainPool | None = None,
                 progress: Callable[[KillResult], None] | None = None) -> CampaignReport:
    scenario = load_scenario(path)
    own = pool is None
    pool = pool or ChainPool()
    try:
        with tempfile.TemporaryDirectory(prefix="dst-crash-campaign-") as tmp:
            def uninterrupted(name: str) -> tuple[RunResult, float]:
                return _timed(lambda: ScenarioRun(scenario, backend=backend, pool=pool,
                                                  state_dir=Path(tmp) / name).run())

            uninterrupted("warm-up")  # the first run deploys the world: not the run's own cost
            runs = [uninterrupted(f"baseline-{i}") for i in range(BASELINE_RUNS)]
            baseline, seconds = runs[0][0], statistics.median(t for _r, t in runs)
            if baseline.error is not None or baseline.crashes:
                raise RuntimeError(f"{path}: the uninterrupted run is not clean: {baseline.error}")
            want_portfolio, want_trades = final_portfolio(baseline), successful_trades(baseline)
            report = CampaignReport(str(path), backend, seed, seconds)
            start = scenario.clock.start
            trading = tuple(e.time - start for e in baseline.journal if e.kind == "tick" and e.trades)
            for kill in plan(scenario, kills, seed, within, trading):
                state_dir = Path(tmp) / f"kill-{kill.index}"
                killed = scenario.model_copy(update={"timeline": (*scenario.timeline, kill.event())})
                result, seconds = _timed(lambda s=killed, d=state_dir: ScenarioRun(  # type: ignore[misc]
                    s, backend=backend, pool=pool, state_dir=d).run())
                try:
                    SegmentedStateStore(state_dir / "state.json").load()
                    loads = True
                except Exception:  # noqa: BLE001 - any failure to load is the finding
                    loads = False
                where = next((e.removeprefix("crash at ") for j in result.journal for e in j.events
                              if e.startswith("crash at ")), "")
                done = KillResult(kill, result.crashes, where, final_portfolio(result) == want_portfolio,
                                  successful_trades(result) == want_trades, loads,
                                  len(result.unexpected_violations), result.error, seconds)
                report.results.append(done)
                if progress is not None:
                    progress(done)
            return report
    finally:
        if own:
            pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.crash_campaign", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--kills", type=int, default=DEFAULT_KILLS)
    parser.add_argument("--backend", default="anvil")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--within", type=int, default=DEFAULT_WITHIN)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the runs' crash and restart warnings are the plan
    report = run_campaign(args.scenario, kills=args.kills, backend=args.backend, seed=args.seed, within=args.within,
                          progress=lambda r: print(f"  kill {r.kill.index}: crashes={r.crashes} "
                                                   f"{'ok' if r.passed else 'check'}", flush=True))
    print("\n".join(report.lines()))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
