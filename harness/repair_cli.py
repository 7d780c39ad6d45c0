"""`harness repair STATE_FILE`: resolve a dead runner's unfinished trades against a node.

Dry run by default: it prints what repair would change (each trade's status before and
after, counter entries, unfrozen positions) and writes nothing. `--apply` saves the
repaired state through the store that loaded it, by the same commit protocol as a run:
new records appended to the segments, the live file replaced atomically last, so a
repair killed at any instant leaves the state as it was or as repaired. The caller holds
the state's lock while applying (`harness repair --apply` does).

The universe comes from the scenario file: deployment is deterministic, so its addresses
are derived by deploying the same world on a throwaway embedded chain, compared with the
universe the state recorded when its run started (a scenario of another universe is
refused, naming both), then checked against the node (the vault must have code there).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from harness.chains import ETH_PER_ACCOUNT, GENESIS, accounts_for, deploy_spec, world_spec
from harness.errors import HarnessError
from harness.scenario.model import Scenario
from runner.chain.client import ChainClient
from runner.chain.ethtester import EthTesterBackend
from runner.chain.node import RpcBackend
from runner.chain.rpc import redact_url
from runner.chain.wallet import ImpersonatedWallet, Wallet
from runner.runner import ChainStrategyRunner
from runner.state import SegmentedStateStore, State, TradeStatus, UniverseIdentity, open_store
from runner.strategy.loader import load_strategy
from runner.universe import Universe


class RepairError(HarnessError):
    """The repair cannot be made: another universe, or no such world on the node."""


@dataclass
class RepairPlan:
    lines: list[str]
    state: State
    changed: bool
    store: SegmentedStateStore  # the store that loaded the state: the one to save it through


def universe_on(scenario: Scenario, rpc_url: str) -> Universe:
    """The scenario's universe as `rpc_url`'s chain holds it: adopted there by address
    (universe.adopt, read and checked), or the deterministic deployment's otherwise."""
    if scenario.universe.adopt is None:
        return derive_universe(scenario)
    from harness.protocols.adopt import adopt_world

    backend = RpcBackend(rpc_url)  # reads only: nothing is funded or sent
    try:
        chain = ChainClient(backend, clock=backend.block_timestamp())
        return adopt_world(chain, accounts_for(scenario), scenario).universe
    finally:
        backend.close()


def _manager(scenario: Scenario, chain: ChainClient, universe: Universe) -> Wallet:
    """The account whose nonces repair judges by (it never sends): the harness's
    asset-manager key, or an adopted vault's own manager as the vault names it."""
    if scenario.universe.adopt is None:
        return Wallet.from_label(accounts_for(scenario).asset_manager.label)
    from harness.protocols.deploy import as_address
    from harness.protocols.scenario_world import STRATEGY_VAULT
    from runner.chain.abi import artifact

    manager = as_address(chain.read(universe.vault, artifact(STRATEGY_VAULT).fn("assetManager")))
    return ImpersonatedWallet("adopted asset manager", manager)


def derive_universe(scenario: Scenario) -> Universe:
    spec = world_spec(scenario)
    accounts = accounts_for(scenario)
    scratch = EthTesterBackend(GENESIS, [accounts.admin.address], ETH_PER_ACCOUNT * 100)
    chain = ChainClient(scratch, clock=spec.deploy_at)
    return deploy_spec(chain, accounts, spec).universe  # the fixtures, or the real protocols


def check_universe(state: State, universe: Universe, state_path: Path, scenario: Scenario) -> list[str]:
    """Refuse a scenario whose universe is not the one the state was written for.

    Returns the notes to print (a state written before universes were recorded)."""
    derived = UniverseIdentity.of(universe)
    if state.universe is None:
        return [f"note: {state_path} records no universe (written before they were recorded): "
                f"not checked against {scenario.source.path}"]
    differences = state.universe.differences(derived)
    if differences:
        raise RepairError(
            f"{scenario.source.path}: another universe than the one {state_path} was written for: "
            f"the state's is {state.universe.describe()}, the scenario's is {derived.describe()} "
            f"({'; '.join(differences[:3])}{'; ...' if len(differences) > 3 else ''}); "
            "pass the scenario the run used")
    return []


def plan_repair(state_path: Path, scenario: Scenario, rpc_url: str) -> RepairPlan:
    store = open_store(state_path)
    original = store.load()
    state = copy.deepcopy(original)
    universe = universe_on(scenario, rpc_url)
    notes = check_universe(state, universe, state_path, scenario)
    backend = RpcBackend(rpc_url)  # any node, local or remote; repair never mines
    chain = ChainClient(backend, clock=backend.block_timestamp())
    if not backend.get_code(universe.vault):
        backend.close()
        raise RepairError(f"no vault at 0x{universe.vault.hex()} on {redact_url(rpc_url)}: is this the scenario's chain?")
    runner = ChainStrategyRunner(
        chain=chain, universe=universe, strategy=load_strategy(scenario.strategy.module),
        parameters=dict(scenario.strategy.parameters), asset_manager=_manager(scenario, chain, universe),
    )
    before = {t.trade_id: t.status for t in state.portfolio.all_trades()}
    frozen_before = {p.position_id for p in state.portfolio.open_positions.values() if p.is_frozen}
    report = runner.repair(state, state.last_updated_at or state.created_at)
    backend.close()
    lines = list(notes)
    for t in sorted(state.portfolio.all_trades(), key=lambda t: t.trade_id):
        old = before.get(t.trade_id)
        if old is None:
            lines.append(f"+ trade #{t.trade_id} {t.trade_type.value} (counter entry for #{t.repaired_trade_id}): "
                         f"reserve {t.executed_reserve}")
        elif old != t.status:
            lines.append(f"~ trade #{t.trade_id} {t.pair}: {old.value} -> {t.status.value}"
                         + (f" ({t.failure_reason})" if t.status != TradeStatus.success and t.failure_reason else ""))
    for t in report.unresolved:
        lines.append(f"? trade #{t.trade_id} {t.pair}: still pending on the node; left {t.status.value}")
    if report.fulfilment is not None:  # the redemption queue's payment the state had left pending
        lines.append(("? " if state.pending_fulfilment is not None else "~ ") + report.fulfilment)
    for pid in report.unfrozen:
        if pid in frozen_before:
            lines.append(f"~ position #{pid}: unfrozen (holdings match the chain)")
    changed = any(ln.startswith(("+", "~")) for ln in lines)
    return RepairPlan(lines, state, changed, store)


def run_repair(state_path: Path, scenario: Scenario, rpc_url: str, apply: bool) -> tuple[int, list[str]]:
    plan = plan_repair(state_path, scenario, rpc_url)
    out = list(plan.lines)
    if not plan.changed and not any(ln.startswith("?") for ln in out):
        out.append("nothing to repair: no unfinished trades")
    if apply and plan.changed:
        plan.store.save(plan.state)  # appends and commits: what it loaded stays committed until then
        out.append(f"applied: {state_path} written")
    elif plan.changed:
        out.append("dry run: nothing written (use --apply)")
    return 0, out
