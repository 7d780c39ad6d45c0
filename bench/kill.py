"""8: what a real kill and restart of the runner process costs (anvil, process mode).

The 30-day scenario is run without crashes and with `kills` seeded random crashes (each a
SIGKILL of the runner process at a kill point, then a new process that loads the state
file, repairs and resumes), alternating, `runs` times each. Reported: the extra wall time
per kill (killed run minus clean run, over the kills that happened), and its parts as
timed around the host's own methods: the restart (`ProcessHost.restart`: spawn, load,
repair, sync, check) and the spawn alone (`ProcessHost._spawn`, every process of the
killed runs, the first included: a Python process importing the runner until it says
it is ready). The killed runs must end in the
clean run's portfolio (the campaign's comparison), or the section says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.clock import median, now

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "main-rebalance-30d.yaml"
KILLS = 10


@contextmanager
def _timing(cls: type, name: str, into: list[float]) -> Iterator[None]:
    """Wall time of every call of `cls.name`, in ms, appended to `into` (restored after)."""
    original = getattr(cls, name)

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        t = now()
        try:
            return original(self, *args, **kwargs)
        finally:
            into.append((now() - t) * 1000)

    setattr(cls, name, timed)
    try:
        yield
    finally:
        setattr(cls, name, original)


def run_kill(runs: int = 3, kills: int = KILLS, log: Callable[[str], None] = print) -> dict[str, Any]:
    from harness.chains import ChainPool
    from harness.crash_campaign import Kill, final_portfolio, successful_trades
    from harness.engine import ScenarioRun
    from harness.process_host import ProcessHost
    from harness.scenario import load_scenario

    scenario = load_scenario(SCENARIO)
    cycle = scenario.clock.cycle
    ticks = scenario.clock.until // cycle
    events = tuple(Kill(i, cycle * (1 + i * (ticks - 1) // kills), 30).event() for i in range(kills))
    killed = scenario.model_copy(update={"timeline": (*scenario.timeline, *events)})
    pool = ChainPool()
    times: dict[str, list[float]] = {"clean": [], "killed": []}
    restarts: list[float] = []
    spawns: list[float] = []
    crashes: list[int] = []
    same = True
    try:
        want = ScenarioRun(scenario, backend="anvil", pool=pool).run()  # warm-up: deploys the world
        for i in range(runs):
            t = now()
            clean = ScenarioRun(scenario, backend="anvil", pool=pool).run()
            times["clean"].append(now() - t)
            with _timing(ProcessHost, "restart", restarts), _timing(ProcessHost, "_spawn", spawns):
                t = now()
                result = ScenarioRun(killed, backend="anvil", pool=pool).run()
                times["killed"].append(now() - t)
            crashes.append(result.crashes)
            same = same and final_portfolio(result) == final_portfolio(want) == final_portfolio(clean) \
                and successful_trades(result) == successful_trades(want)
            log(f"  run {i + 1}: clean {times['clean'][-1]:.2f} s, {result.crashes} kills {times['killed'][-1]:.2f} s")
    finally:
        pool.close()
    kills_median = median([float(c) for c in crashes])
    extra = (median(times["killed"]) - median(times["clean"])) * 1000
    per_kill = extra / kills_median if kills_median else 0.0
    return {
        "scenario": str(SCENARIO.relative_to(SCENARIO.parents[1])), "runs": runs, "kills_planned": kills,
        "kills": crashes, "cycles": ticks + 1, "same_portfolio": same,
        "clean_seconds": [round(x, 3) for x in times["clean"]],
        "killed_seconds": [round(x, 3) for x in times["killed"]],
        "extra_ms_per_kill": round(per_kill, 1),
        "restart_ms_median": round(median(restarts), 1), "restart_ms_best": round(min(restarts), 1) if restarts else None,
        "spawn_ms_median": round(median(spawns), 1), "spawn_ms_best": round(min(spawns), 1) if spawns else None,
        "kill_interval": str(timedelta(days=(ticks - 1) / kills)),
    }


def render(res: dict[str, Any] | None) -> list[str]:
    """The markdown lines of this section (empty when it did not run)."""
    if not res or "extra_ms_per_kill" not in res:
        return []
    return ["", f"## 8. A real kill and restart of the runner process ({res['scenario']} on anvil, "
                f"{res['runs']} runs each, {res['kills_planned']} SIGKILLs per killed run)", "",
            "| measure | ms |", "|---|---|",
            f"| extra wall time per kill (killed run - clean run, medians) | {res['extra_ms_per_kill']} |",
            f"| restart: spawn, load, repair, sync, check (median / best) | {res['restart_ms_median']} / "
            f"{res['restart_ms_best']} |",
            f"| of which the spawn until ready (median / best) | {res['spawn_ms_median']} / {res['spawn_ms_best']} |",
            "", f"Kills per run: {res['kills']}; clean runs {res['clean_seconds']} s, killed runs "
                f"{res['killed_seconds']} s; same final portfolio and trades as the clean run: "
                f"{'yes' if res['same_portfolio'] else 'NO'}."]


__all__ = ["render", "run_kill"]
