"""Chains for scenario runs: fresh or reused, embedded or anvil, with the deployed world
cached as a chain snapshot so a scenario's world is ready without redeploying.

A `ChainPool` belongs to one process (one pytest-xdist worker, one CLI run). It keeps at
most one embedded chain, one revm chain and one anvil node alive, and per world (the universe section's
content) a snapshot taken right after deployment. Each run reverts to that snapshot:
same block numbers, same addresses, same balances, every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from harness.accounts import ASSET_MANAGER, Accounts
from harness.anvil_node import AnvilNode
from harness.errors import HarnessError
from harness.forks import redact_url
from harness.scenario.model import Scenario
from harness.world import PoolDecl, TokenDecl, World, deploy_world

if TYPE_CHECKING:  # py-evm costs half a second to import: only the embedded chain needs it
    from harness.runner_forkserver import ForkServer
    from runner.chain.ethtester import EthTesterBackend
    from runner.chain.revm import RevmBackend
from runner.chain.anvil import AnvilBackend
from runner.chain.client import ChainClient
from runner.chain.errors import Unsupported
from runner.universe import VaultKind


class ChainHoldsAWorld(HarnessError):
    """`--rpc` names a node that already holds a deployed world: never deployed over."""


# Every chain starts at the same genesis time, so block timestamps and numbers agree
# across backends and across scenarios sharing a node.
GENESIS = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
ETH_PER_ACCOUNT = 10**24
BACKENDS = ("eth-tester", "anvil", "revm")
DEPLOY_LEAD = timedelta(hours=1)  # the world is deployed this long before clock.start


@dataclass(frozen=True)
class WorldSpec:
    reserve: str
    tokens: tuple[TokenDecl, ...]
    pools: tuple[PoolDecl, ...]
    investors: tuple[str, ...]
    deploy_at: int
    vault: VaultKind = VaultKind.legacy
    asset_manager: str = ASSET_MANAGER  # the label of the vault manager's key

    @property
    def on_protocols(self) -> bool:
        """Deployed by harness/protocols (a real vault, and the real DEXes it trades)."""
        return self.vault != VaultKind.legacy

    def key(self, *, with_time: bool = True) -> str:
        """Identity of the deployed world; without time it identifies its addresses."""
        doc = json.dumps(
            [self.reserve, [t.__dict__ for t in self.tokens], [p.__dict__ for p in self.pools],
             list(self.investors), self.deploy_at if with_time else None, str(self.vault),
             *([self.asset_manager] if self.asset_manager != ASSET_MANAGER else [])],
            default=str, sort_keys=True,
        )
        return hashlib.sha256(doc.encode()).hexdigest()


def world_spec(scenario: Scenario) -> WorldSpec:
    """The world a scenario's universe section describes, deployed just before it starts."""
    u = scenario.universe
    tokens = tuple(TokenDecl(sym, t.decimals, t.rebasing, t.transfer_fee) for sym, t in u.tokens.items())
    pools = tuple(PoolDecl(p.base, p.quote, p.declared_price, p.declared_depth, p.fee, p.dex) for p in u.pools)
    deploy_at = int((scenario.clock.start - DEPLOY_LEAD).timestamp())
    return WorldSpec(u.reserve, tokens, pools, tuple(scenario.investors), deploy_at, scenario.vault.kind,
                     u.asset_manager_key or ASSET_MANAGER)


def accounts_for(scenario: Scenario) -> Accounts:
    """The scenario's cast, its vault manager's key by the universe's label."""
    return Accounts.for_investors(scenario.investors, scenario.universe.asset_manager_key or ASSET_MANAGER)


def deploy_spec(chain: ChainClient, accounts: Accounts, spec: WorldSpec) -> World:
    """The fixture world, or (with a real vault) the world on the real protocols."""
    if spec.on_protocols:
        from harness.protocols.scenario_world import deploy_scenario_world

        return deploy_scenario_world(chain, accounts, spec.reserve, spec.tokens, spec.pools, spec.vault)
    return deploy_world(chain, accounts, spec.reserve, list(spec.tokens), list(spec.pools))


CPU_SPENT: dict[str, float] = {"anvil": 0.0, "runners": 0.0}  # float-ok: CPU seconds, reported only
"""CPU seconds of the anvil nodes and runner fork servers (their forked runners included)
this process's pools have stopped: what `bench.fuzz` reports as a run's CPU beside the
harness's own. Read from /proc as each stops (Linux; nothing is added elsewhere)."""


def process_cpu(pid: int, *, children: bool = False) -> float:  # float-ok: CPU seconds
    """A live process's user + system CPU seconds (with its reaped children's), or 0."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _stop_node(node: AnvilNode) -> None:
    CPU_SPENT["anvil"] += process_cpu(node.proc.pid)
    node.stop()


@dataclass
class _Cached:
    snapshot: object
    world: World


@dataclass
class ChainPool:
    """Chains and deployed worlds, reused across the runs of one process."""

    anvil_args: list[str] = field(default_factory=list)
    anvil_url: str | None = None  # an anvil someone else started: used, never stopped
    _ethtester: EthTesterBackend | None = None
    _anvil_node: AnvilNode | None = None
    _anvil: AnvilBackend | None = None
    _revm: RevmBackend | None = None
    _worlds: dict[tuple[str, str], _Cached] = field(default_factory=dict)
    deploys: int = 0
    fork_runners: bool = False  # runner processes forked from a pre-imported server (harness/runner_forkserver.py)
    _forks: ForkServer | None = None
    _anvil_stale: bool = False
    _revm_stale: bool = False
    _deployed_here: bool = False  # with anvil_url: this pool has checked the node and deployed on it

    def _backend(self, name: str, accounts: Accounts) -> EthTesterBackend | AnvilBackend | RevmBackend:
        if name == "revm":
            if self._revm is None or self._revm_stale:
                from runner.chain.revm import RevmBackend

                self._revm_stale = False
                self._revm = RevmBackend(GENESIS, [accounts.admin.address], ETH_PER_ACCOUNT * 100)
                self._revm_genesis = self._revm.snapshot()
            return self._revm
        if name == "eth-tester":
            if self._ethtester is None:
                from runner.chain.ethtester import EthTesterBackend

                self._ethtester = EthTesterBackend(GENESIS, [accounts.admin.address], ETH_PER_ACCOUNT * 100)
                self._ethtester_genesis = self._ethtester.snapshot()
            return self._ethtester
        if name == "anvil" and self.anvil_url is not None:
            if self._anvil is None:
                self._anvil = AnvilBackend(self.anvil_url)
                self._anvil_genesis = self._anvil.snapshot()
            return self._anvil
        if name == "anvil":
            if (self._anvil is None or self._anvil_node is None or not self._anvil_node.running
                    or self._anvil_stale):
                if self._anvil_node is not None:
                    _stop_node(self._anvil_node)
                self._anvil_stale = False
                self._anvil_node = AnvilNode(genesis_timestamp=GENESIS, extra_args=self.anvil_args)
                self._anvil = AnvilBackend(self._anvil_node.url)
                self._anvil_genesis = self._anvil.snapshot()
            return self._anvil
        raise ValueError(f"unknown backend {name!r}")

    def existing_chain(self, accounts: Accounts) -> ChainClient:
        """The chain of the node someone else started (`--rpc`), as it is: nothing
        reverted, nothing deployed (an adopting scenario finds its contracts there)."""
        if self.anvil_url is None:
            raise Unsupported("anvil", "adopt contracts on a node this pool started itself")
        backend = self._backend("anvil", accounts)
        chain = ChainClient(backend, clock=backend.block_timestamp())
        for w in accounts.all():
            chain.sync_nonce(w)
        return chain

    def world(self, backend_name: str, spec: WorldSpec, accounts: Accounts) -> tuple[ChainClient, World]:
        """A chain with the world deployed, in exactly the state right after deployment."""
        backend = self._backend(backend_name, accounts)
        if isinstance(backend, AnvilBackend) and self.anvil_url is not None and not self._worlds:
            self._refuse_deploying_over(backend, accounts)
        key = (backend_name, spec.key())
        cached = self._worlds.get(key)
        if cached is not None:
            backend.revert(cached.snapshot)
            chain = ChainClient(backend, clock=spec.deploy_at)
            for w in accounts.all():
                chain.sync_nonce(w)
            fresh = backend.snapshot()
            self._worlds[key] = _Cached(fresh, cached.world)
            # The same kind of world (a protocol world keeps its DEX actions), on this chain.
            world = dataclasses.replace(cached.world, chain=chain, accounts=accounts, armed_faults={})
            return chain, world
        # Reverting to genesis invalidates every snapshot taken after it (anvil deletes
        # them; on the embedded chain the log index would no longer match).
        self._worlds = {k: v for k, v in self._worlds.items() if k[0] != backend_name}
        self._reset_to_genesis(backend_name, backend, accounts)
        chain = ChainClient(backend, clock=spec.deploy_at)
        world = deploy_spec(chain, accounts, spec)
        self.deploys += 1
        self._worlds[key] = _Cached(backend.snapshot(), world)
        return chain, world

    def _refuse_deploying_over(self, backend: AnvilBackend, accounts: Accounts) -> None:
        """A node someone else started that already holds a world deployed by the
        harness's admin key (its nonce is not 0, it sent transactions) is never deployed
        over: a second deployment would put a second world beside the first, at other
        addresses, and run the scenario there. Adopt the first one instead."""
        if self._deployed_here:
            return  # this pool deployed the first world itself (several runs, one node)
        sent = backend.get_nonce(accounts.admin.address, confirmed=True)
        if sent:
            raise ChainHoldsAWorld(
                f"the chain at {redact_url(self.anvil_url or '')} already holds a world deployed by the harness's "
                f"admin {accounts.admin.checksum_address} ({sent} transactions sent): the harness does not deploy "
                "a second one over it; adopt the one there by address (universe.adopt, see the README's "
                "\"Replaying an incident on a real fork\") or give --rpc a fresh node")
        self._deployed_here = True

    def _reset_to_genesis(self, name: str, backend: EthTesterBackend | AnvilBackend | RevmBackend,
                          accounts: Accounts) -> None:
        if name == "eth-tester":
            backend.revert(self._ethtester_genesis)
            for w in accounts.all():
                w.nonce = 0
            return
        if name == "revm":  # a revert uses its snapshot up, as on anvil: take the next one
            backend.revert(self._revm_genesis)
            self._revm_genesis = backend.snapshot()
            for w in accounts.all():
                w.nonce = 0
            return
        assert isinstance(backend, AnvilBackend)
        backend.revert(self._anvil_genesis)
        self._anvil_genesis = backend.snapshot()
        backend.set_eth_balance(accounts.admin.address, ETH_PER_ACCOUNT * 100)
        for w in accounts.all():
            w.nonce = 0

    def deployed_universe(self, backend_name: str, spec: WorldSpec) -> World:
        """The world this pool deployed for `spec` (after a run used it)."""
        return self._worlds[(backend_name, spec.key())].world

    @property
    def node_url(self) -> str:
        if self.anvil_url is not None:
            return self.anvil_url
        assert self._anvil_node is not None
        return self._anvil_node.url

    def restart_node(self, backend_name: str) -> None:
        """Restart the node of `backend_name`, keeping its chain (state dump and load).

        anvil: a new process loads the old one's dump, and the same AnvilBackend object is
        re-pointed at it, so every client of it carries on. revm: the same backend object
        loads its own dump into a new EVM. Either way pool and snapshots are gone, as with
        a new process, so the node is not reused for another world afterwards.
        """
        if backend_name == "anvil" and self._anvil is not None and self._anvil_node is not None:
            dump = self._anvil.dump_state()
            self._anvil.close()
            _stop_node(self._anvil_node)
            self._anvil_node = AnvilNode(genesis_timestamp=GENESIS, extra_args=self.anvil_args)
            self._anvil.reconnect(self._anvil_node.url)
            self._anvil.load_state(dump)
            self._worlds = {k: v for k, v in self._worlds.items() if k[0] != "anvil"}
            self._anvil_stale = True
            return
        if backend_name == "revm" and self._revm is not None:
            self._revm.load_state(self._revm.dump_state())
            self._worlds = {k: v for k, v in self._worlds.items() if k[0] != "revm"}
            self._revm_stale = True
            return
        raise Unsupported(backend_name, "restart a node this pool did not start")

    def fork_server_for(self) -> Callable[[Mapping[str, str], str], ForkServer] | None:
        """How runner processes start: None, a fresh exec each (the default); with
        `fork_runners`, forked from this pool's server, started again when the
        environment or working directory a child would get is not the server's."""
        if not self.fork_runners:
            return None
        return self._fork_server

    def _fork_server(self, env: Mapping[str, str], cwd: str) -> ForkServer:
        from harness.runner_forkserver import ForkServer

        if self._forks is None or not self._forks.matches(env, cwd):
            if self._forks is not None:
                self._close_forks()
            self._forks = ForkServer(env, cwd)
        return self._forks

    def _close_forks(self) -> None:
        assert self._forks is not None
        CPU_SPENT["runners"] += process_cpu(self._forks.proc.pid, children=True)
        self._forks.close()
        self._forks = None

    def close(self) -> None:
        if self._forks is not None:
            self._close_forks()
        if self._anvil is not None:
            self._anvil.close()
        if self._anvil_node is not None:
            _stop_node(self._anvil_node)
        if self._revm is not None:
            self._revm.close()
        self._anvil = None
        self._anvil_node = None
        self._ethtester = None
        self._revm = None
        self._worlds.clear()
