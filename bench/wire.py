"""7: the wire proxy's cost: the reference workload on anvil, direct vs through the proxy.

Two anvils, two pools: one talks to its node directly, the other through a `WireProxy`
with nothing armed (the case every anvil run would pay for if the harness always put
the proxy in). The world is deployed once per pool, then the runs alternate direct,
proxied, direct, ... so drift in the machine's load hits both alike. Requests per cycle
come from the runner's own client (`JsonRpcClient.calls`) and, through the proxy, from
the proxy's counter: the proxy must not change what the runner asks.

Goal: proxied cycle time under 1.2x direct. On a loaded machine run medians swing by
more than the proxy costs, so the best run of each is reported too, and the proxy's own
cost is measured apart: one `eth_blockNumber` round trip, direct vs proxied, in
interleaved blocks (its median difference times the requests per cycle is what the
proxy adds to a cycle).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.clock import median, now
from bench.reference import _state_digest

GOAL = 1.2


def round_trips(direct_url: str, proxied_url: str, blocks: int = 40, per_block: int = 50) -> dict[str, Any]:
    """Microseconds per eth_blockNumber round trip, direct and proxied, interleaved."""
    from runner.chain.rpc import JsonRpcClient

    clients = {"direct": JsonRpcClient(direct_url), "proxied": JsonRpcClient(proxied_url)}
    samples: dict[str, list[float]] = {m: [] for m in clients}
    try:
        for _ in range(blocks):
            for mode, rpc in clients.items():
                t = now()
                for _ in range(per_block):
                    rpc.request("eth_blockNumber")
                samples[mode].append((now() - t) / per_block * 1e6)
    finally:
        for rpc in clients.values():
            rpc.close()
    out: dict[str, Any] = {m: {"median_us": round(median(v), 1), "best_us": round(min(v), 1)}
                           for m, v in samples.items()}
    out["added_us_median"] = round(out["proxied"]["median_us"] - out["direct"]["median_us"], 1)
    out["added_us_best"] = round(out["proxied"]["best_us"] - out["direct"]["best_us"], 1)
    return out


def run_wire(scenario_path: Path, runs: int, log: Any = print) -> dict[str, Any]:
    """Median ms/cycle and requests/cycle of the reference workload, direct vs proxied."""
    from harness.accounts import Accounts
    from harness.anvil_node import AnvilNode
    from harness.chains import GENESIS, ChainPool, world_spec
    from harness.engine import ScenarioRun
    from harness.scenario import load_scenario
    from harness.timeline import build_timeline
    from harness.wire import WireProxy

    scenario = load_scenario(scenario_path)
    cycles = sum(1 for i in build_timeline(scenario) if i.tick)
    out: dict[str, Any] = {"cycles": cycles, "runs": runs, "goal_ratio": GOAL}
    nodes = {m: AnvilNode(genesis_timestamp=GENESIS) for m in ("direct", "proxied")}
    proxy = WireProxy(nodes["proxied"].url).start()
    pools = {"direct": ChainPool(anvil_url=nodes["direct"].url), "proxied": ChainPool(anvil_url=proxy.url)}
    times: dict[str, list[float]] = {m: [] for m in pools}
    requests: dict[str, list[int]] = {m: [] for m in pools}
    digests: dict[str, set[str]] = {m: set() for m in pools}
    proxied_requests: list[int] = []
    try:
        out["round_trip"] = round_trips(nodes["proxied"].url, proxy.url)
        spec = world_spec(scenario)
        for pool in pools.values():
            pool.world("anvil", spec, Accounts.for_investors(scenario.investors))
        with tempfile.TemporaryDirectory(prefix="bench-wire-") as tmp:
            for i in range(runs):
                for mode, pool in pools.items():
                    assert pool._anvil is not None
                    rpc = pool._anvil.rpc
                    calls0, seen0 = rpc.calls, proxy.stats().requests
                    state_dir = Path(tmp) / f"{mode}{i}"
                    state_dir.mkdir()
                    t = now()
                    result = ScenarioRun(scenario, backend="anvil", pool=pool, state_dir=state_dir).run()
                    elapsed = now() - t
                    times[mode].append(elapsed)
                    requests[mode].append(rpc.calls - calls0)
                    digests[mode].add(_state_digest(result.state))
                    if mode == "proxied":
                        proxied_requests.append(proxy.stats().requests - seen0)
                    log(f"  {mode} run {i + 1}/{runs}: {elapsed:.2f} s ({elapsed / cycles * 1000:.2f} ms/cycle, "
                        f"{(rpc.calls - calls0) / cycles:.1f} requests/cycle, error={result.error})")
    finally:
        for pool in pools.values():
            pool.close()
        proxy.stop()
        for node in nodes.values():
            node.stop()
    for mode in pools:
        med = median(times[mode])
        out[mode] = {
            "seconds_median": round(med, 3),
            "seconds_all": [round(x, 3) for x in times[mode]],
            "ms_per_cycle": round(med / cycles * 1000, 3),
            "best_ms_per_cycle": round(min(times[mode]) / cycles * 1000, 3),
            "requests_per_cycle": round(requests[mode][0] / cycles, 3),
        }
    out["proxy_requests_per_cycle"] = round(proxied_requests[0] / cycles, 3)
    out["ratio"] = round(out["proxied"]["ms_per_cycle"] / out["direct"]["ms_per_cycle"], 3)
    out["ratio_best"] = round(out["proxied"]["best_ms_per_cycle"] / out["direct"]["best_ms_per_cycle"], 3)
    rt = out["round_trip"]
    out["added_ms_per_cycle_from_round_trips"] = round(rt["added_us_median"] * requests["direct"][0] / cycles / 1000, 3)
    out["same_state"] = len(digests["direct"] | digests["proxied"]) == 1
    out["same_requests"] = requests["direct"] == requests["proxied"] == proxied_requests
    return out


def render(res: dict[str, Any] | None) -> list[str]:
    """The markdown lines of this section (empty when it did not run)."""
    if not res or "direct" not in res:
        return []
    rt = res["round_trip"]
    rows = [f"| {m} | {res[m]['requests_per_cycle']} | {res[m]['ms_per_cycle']} | {res[m]['best_ms_per_cycle']} | "
            f"{rt[m]['median_us']} / {rt[m]['best_us']} | {' / '.join(str(x) for x in res[m]['seconds_all'])} |"
            for m in ("direct", "proxied")]
    return ["", f"## 7. Wire proxy overhead (reference workload on anvil, {res['cycles']} cycles, "
                f"{res['runs']} alternating runs each)", "",
            "| connection | requests/cycle | ms/cycle (median) | ms/cycle (best) | eth_blockNumber us (median / best) "
            "| all runs (s) |", "|---|---|---|---|---|---|", *rows, "",
            f"**Proxied / direct = {res['ratio']}** (best runs {res['ratio_best']}; goal < {res['goal_ratio']}); the "
            f"proxy adds {rt['added_us_median']} us per round trip, {res['added_ms_per_cycle_from_round_trips']} ms "
            f"per cycle at this request count; requests seen by the proxy per "
            f"cycle: {res['proxy_requests_per_cycle']}; same requests: {'yes' if res['same_requests'] else 'NO'}; "
            f"same final state: {'yes' if res['same_state'] else 'NO'}."]
