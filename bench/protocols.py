"""`python -m bench.protocols`: what the real-protocol worlds cost.

    python -m bench.protocols            write bench/results/protocols.{json,md}
    python -m bench.protocols --repeats 5

1. Set-up time of each world (v2 only, v3 only, fixture AMM only, the vaults on v2 + v3,
   the integration tests' full world) on eth-tester and on anvil: a fresh chain (node
   start-up excluded), `deploy_protocol_world`, the first snapshot. Median of N.
2. The world ready again by snapshot revert (`ProtocolChains.world` the second time:
   evm_revert + a fresh snapshot + a ChainClient + the cast's nonces), and the revert
   and snapshot alone. Median of 50.
3. Uniswap v3 quotes: runner.models.v3math on a read pool state against one QuoterV2
   eth_call on anvil, and reading that state (bitmap window of 64 words, whole bitmap).
4. (`--cycles N`, alone: results/protocols-cycles.{json,md}) The reference workload's
   first N cycles, whole scenario runs through the engine on revm and anvil, on: the
   fixture AMM with the legacy vault (the reference itself), the fixture AMM with the
   ERC-4626 vault, Uniswap v2 and Uniswap v3 (0.3% tier), both with the ERC-4626 vault.
   stETH is a plain token in every variant (a rebasing token's share rounding is not
   what a v3 pool's balance check accepts). Time per cycle = run time / cycles, world
   already deployed (the first run is a warm-up).

No assertion on time; timing is `time.perf_counter` (bench.clock).
"""

from __future__ import annotations

import argparse
import json
import os
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from bench.clock import cpu_now, median, now
from harness.protocols.chains import ProtocolChains
from harness.protocols.uniswap_v3 import FULL_RANGE, V3Range, read_pool_state
from harness.protocols.world import ProtocolPoolDecl, ProtocolWorldSpec
from harness.world import TokenDecl
from runner.chain.wallet import Wallet
from runner.models.v3math import swap

RESULTS = Path(__file__).resolve().parent / "results"
TOKENS = (TokenDecl("USDC", 6), TokenDecl("WETH", 18), TokenDecl("WBTC", 8))
WORLDS: dict[str, ProtocolWorldSpec] = {
    "v2: 2 pairs, no vault": ProtocolWorldSpec("USDC", TOKENS, (
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(2_000_000), "v2"),
        ProtocolPoolDecl("WBTC", "USDC", D(40000), D(2_000_000), "v2")), vaults=()),
    "v3: 2 pools (full range), no vault": ProtocolWorldSpec("USDC", TOKENS, (
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(2_000_000), "v3", 500),
        ProtocolPoolDecl("WBTC", "USDC", D(40000), D(2_000_000), "v3", 3000)), vaults=()),
    "fixture AMM: 2 pairs, no vault": ProtocolWorldSpec("USDC", TOKENS, (
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(2_000_000), "fixture"),
        ProtocolPoolDecl("WBTC", "USDC", D(40000), D(2_000_000), "fixture")), vaults=()),
    "v2 + v3 + both vaults": ProtocolWorldSpec("USDC", TOKENS, (
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(2_000_000), "v2"),
        ProtocolPoolDecl("WBTC", "USDC", D(40000), D(2_000_000), "v3", 3000,
                         (FULL_RANGE, V3Range(D("0.9"), D("1.1"))))), vaults=("erc4626", "async")),
}


def _full_test_world() -> ProtocolWorldSpec:
    from tests.integration.protocol_worlds import SPEC

    return SPEC


def setup_times(repeats: int) -> dict[str, Any]:
    am = Wallet.from_label("asset-manager")
    worlds = dict(WORLDS)
    worlds["integration-test world (9 pools, 4 v3 tiers, both vaults)"] = _full_test_world()
    out: dict[str, Any] = {}
    for name, spec in worlds.items():
        row: dict[str, Any] = {}
        for backend in ("eth-tester", "anvil"):
            times, blocks = [], 0
            for _ in range(repeats):
                chains = ProtocolChains()
                try:
                    chains.backend(backend)  # the node or the embedded chain exists first
                    t = now()
                    chain, _world = chains.world(backend, spec, am)
                    times.append(now() - t)
                    blocks = chain.block_number()
                finally:
                    chains.close()
            row[backend] = {"median_s": round(median(times), 4), "runs": [round(x, 4) for x in times],
                            "blocks": blocks}
        out[name] = row
    return out


def revert_times(repeats: int = 50) -> dict[str, Any]:
    am = Wallet.from_label("asset-manager")
    cast = (Wallet.from_label("investor/alice"), Wallet.from_label("investor/bob"))
    out: dict[str, Any] = {}
    spec = _full_test_world()
    for backend in ("eth-tester", "anvil"):
        chains = ProtocolChains()
        try:
            chains.world(backend, spec, am, fund=cast)
            ready, raw = [], []
            for _ in range(repeats):
                t = now()
                chains.world(backend, spec, am, fund=cast)
                ready.append(now() - t)
            be = chains.backend(backend)
            snap = be.snapshot()
            for _ in range(repeats):
                t = now()
                be.revert(snap)
                snap = be.snapshot()
                raw.append(now() - t)
            out[backend] = {"world_ready_ms": round(median(ready) * 1000, 3),
                            "revert_plus_snapshot_ms": round(median(raw) * 1000, 3)}
        finally:
            chains.close()
    return out


def v3_quotes(repeats: int = 200) -> dict[str, Any]:
    from tests.integration.protocol_worlds import make_bench

    chains = ProtocolChains()
    try:
        b = make_bench(chains, "anvil")
        assert b.world.v3 is not None
        key = "WETH/USDC@v3-3000"
        pool = b.world.pools[key]
        out: dict[str, Any] = {}
        t = now()
        state = read_pool_state(b.chain, pool.address, b.world.multicall, radius=64)
        out["read_state_radius64_ms"] = round((now() - t) * 1000, 2)
        t = now()
        read_pool_state(b.chain, pool.address, b.world.multicall)
        out["read_state_whole_bitmap_ms"] = round((now() - t) * 1000, 2)
        zero_for_one = pool.token0 == b.token("WETH").address
        for label, amount in (("0.01 WETH", 10**16), ("300 WETH (crosses ticks)", 300 * 10**18)):
            t = now()
            for _ in range(repeats):
                swap(state, zero_for_one, amount)
            py_us = (now() - t) / repeats * 1e6
            params = (pool.token0 if zero_for_one else pool.token1, pool.token1 if zero_for_one else pool.token0,
                      amount, pool.fee, 0)
            t = now()
            for _ in range(20):
                b.read(b.world.v3.quoter_v2, "uniswap/QuoterV2", "quoteExactInputSingle", params)
            rpc_us = (now() - t) / 20 * 1e6
            out[label] = {"v3math_us": round(py_us, 1), "quoterv2_eth_call_anvil_us": round(rpc_us, 1),
                          "ticks_crossed": swap(state, zero_for_one, amount).initialized_ticks_crossed}
        return out
    finally:
        chains.close()


CYCLE_VARIANTS: dict[str, tuple[str, str]] = {
    # name -> (what each pool line gains, the vault section)
    "fixture AMM, legacy vault": ("", ""),
    "fixture AMM, erc4626 vault": ("", "vault: {kind: erc4626}\n"),
    "uniswap-v2, erc4626 vault": ("dex: uniswap-v2, ", "vault: {kind: erc4626}\n"),
    "uniswap-v3 0.3%, erc4626 vault": ("dex: uniswap-v3, ", "vault: {kind: erc4626}\n"),
}


def variant_yaml(cycles: int, pool_prefix: str, vault: str) -> str:
    """The reference workload's text with every pool on another dex and another vault."""
    from bench.workloads import reference_yaml

    text = reference_yaml(cycles).replace("stETH: {decimals: 18, rebasing: true}", "stETH: {decimals: 18}")
    text = text.replace("    - {pair: ", "    - {" + pool_prefix + "pair: ")
    return text.replace("strategy: {", vault + "strategy: {", 1)


def cycle_times(cycles: int, runs: int, backends: tuple[str, ...] = ("revm", "anvil")) -> dict[str, Any]:
    import tempfile

    from harness.chains import ChainPool
    from harness.engine import ScenarioRun
    from harness.scenario import load_scenario

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (prefix, vault) in CYCLE_VARIANTS.items():
            path = Path(tmp) / f"{len(out)}.yaml"
            path.write_text(variant_yaml(cycles, prefix, vault))
            scenario = load_scenario(path)
            row: dict[str, Any] = {}
            for backend in backends:
                pool = ChainPool()
                try:
                    ScenarioRun(scenario, backend=backend, pool=pool).run()  # warm-up: deploys the world
                    times, cpu = [], []
                    nav = ""
                    for _ in range(runs):
                        t, c = now(), cpu_now()
                        result = ScenarioRun(scenario, backend=backend, pool=pool).run()
                        times.append(now() - t)
                        cpu.append(cpu_now() - c)
                        nav = str(result.state.portfolio.nav())
                    row[backend] = {"cycle_ms": round(median(times) / cycles * 1000, 2),
                                    "cpu_cycle_ms": round(median(cpu) / cycles * 1000, 2),
                                    "runs_s": [round(x, 3) for x in times], "final_nav": nav}
                finally:
                    pool.close()
            out[name] = row
    base = out["fixture AMM, legacy vault"]
    for row in out.values():
        for backend, cell in row.items():
            cell["vs_fixture_legacy"] = round(cell["cycle_ms"] / base[backend]["cycle_ms"], 2)
            cell["cpu_vs_fixture_legacy"] = round(cell["cpu_cycle_ms"] / base[backend]["cpu_cycle_ms"], 2)
    return {"cycles": cycles, "runs": runs, "variants": out}


def render_cycles(results: dict[str, Any]) -> str:
    c = results["cycles"]
    backends = list(next(iter(c["variants"].values())))
    lines = ["# bench.protocols --cycles", "", f"load average {results['load']}", "",
             f"## Reference workload, first {c['cycles']} cycles (median of {c['runs']} runs after a warm-up)", "",
             "| variant | " + " | ".join(f"{b} ms/cycle | {b} x fixture" for b in backends)
             + " | revm CPU ms/cycle | revm CPU x fixture |",
             "|---|" + "---|---|" * len(backends) + "---|---|"]
    for name, row in c["variants"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[b]['cycle_ms']} | {row[b]['vs_fixture_legacy']}"
                                                  for b in backends)
                     + f" | {row['revm']['cpu_cycle_ms']} | {row['revm']['cpu_vs_fixture_legacy']} |")
    lines += ["", "CPU is this process's (time.process_time): the whole run for revm, which is in process; "
              "for anvil it would leave out the node's own process, so anvil has wall time only."]
    return "\n".join(lines) + "\n"


def render(results: dict[str, Any]) -> str:
    lines = ["# bench.protocols", "", f"load average {results['load']}", "", "## World set-up (median)", "",
             "| world | eth-tester s | anvil s | blocks |", "|---|---|---|---|"]
    for name, row in results["setup"].items():
        lines.append(f"| {name} | {row['eth-tester']['median_s']} | {row['anvil']['median_s']} | "
                     f"{row['anvil']['blocks']} |")
    lines += ["", "## World ready by snapshot revert (median of 50)", "",
              "| backend | world ready ms | revert + snapshot ms |", "|---|---|---|"]
    for backend, row in results["revert"].items():
        lines.append(f"| {backend} | {row['world_ready_ms']} | {row['revert_plus_snapshot_ms']} |")
    q = results["v3"]
    lines += ["", "## Uniswap v3 quotes (WETH/USDC 0.3%, anvil)", "",
              f"state read: {q['read_state_radius64_ms']} ms (64-word window), "
              f"{q['read_state_whole_bitmap_ms']} ms (whole bitmap)", "",
              "| swap | v3math µs | QuoterV2 eth_call µs | ticks crossed |", "|---|---|---|---|"]
    for label in ("0.01 WETH", "300 WETH (crosses ticks)"):
        r = q[label]
        lines.append(f"| {label} | {r['v3math_us']} | {r['quoterv2_eth_call_anvil_us']} | {r['ticks_crossed']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.protocols")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=0, help="only the cycle times of the reference workload's "
                        "first N cycles on each dex and vault")
    args = parser.parse_args()
    if args.cycles:
        cycles = {"load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "cycles": cycle_times(args.cycles, args.repeats)}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "protocols-cycles.json").write_text(json.dumps(cycles, indent=2, sort_keys=True) + "\n")
        (RESULTS / "protocols-cycles.md").write_text(render_cycles(cycles))
        print(render_cycles(cycles))
        return
    results = {"load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
               "setup": setup_times(args.repeats), "revert": revert_times(), "v3": v3_quotes()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "protocols.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    text = render(results)
    (RESULTS / "protocols.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
