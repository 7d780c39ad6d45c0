"""Chains for protocol worlds: one embedded chain and one anvil node per process, each
world deployed once per backend and then made ready again by a snapshot revert.

Like harness.chains.ChainPool (which it does not share nodes with: a revert to genesis
there would delete the snapshots here), but for `ProtocolWorldSpec` worlds. The same
genesis (time, funded admin) on both backends gives the same addresses and blocks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.anvil_node import AnvilNode
from harness.chains import ETH_PER_ACCOUNT, GENESIS
from harness.protocols.world import ProtocolWorld, ProtocolWorldSpec, deploy_protocol_world
from runner.chain.anvil import AnvilBackend
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet

if TYPE_CHECKING:
    from runner.chain.ethtester import EthTesterBackend

#: Worlds are deployed an hour after genesis (block timestamps follow the clock).
DEPLOY_AT = GENESIS + 3600


def spec_key(spec: ProtocolWorldSpec) -> str:
    """The identity of a world: its declaration (frozen dataclasses, stable repr)."""
    return hashlib.sha256(repr(spec).encode()).hexdigest()


@dataclass
class _Cached:
    snapshot: object
    world: ProtocolWorld
    clock: int
    nonces: dict[bytes, int]  # every cast member's nonce in the snapshot


@dataclass
class ProtocolChains:
    """This process's chains for protocol worlds (an anvil node is started on first use)."""

    anvil_args: list[str] = field(default_factory=list)
    admin: Wallet = field(default_factory=lambda: Wallet.from_label("admin"))
    deploys: int = 0
    _ethtester: EthTesterBackend | None = None
    _anvil_node: AnvilNode | None = None
    _anvil: AnvilBackend | None = None
    _genesis: dict[str, object] = field(default_factory=dict)
    _worlds: dict[tuple[str, str], _Cached] = field(default_factory=dict)

    def backend(self, name: str) -> EthTesterBackend | AnvilBackend:
        if name == "eth-tester":
            if self._ethtester is None:
                from runner.chain.ethtester import EthTesterBackend

                self._ethtester = EthTesterBackend(GENESIS, [self.admin.address], ETH_PER_ACCOUNT * 100)
                self._genesis[name] = self._ethtester.snapshot()
            return self._ethtester
        if name == "anvil":
            if self._anvil is None or self._anvil_node is None or not self._anvil_node.running:
                if self._anvil_node is not None:
                    self._anvil_node.stop()
                self._anvil_node = AnvilNode(genesis_timestamp=GENESIS, extra_args=self.anvil_args)
                self._anvil = AnvilBackend(self._anvil_node.url)
                self._genesis[name] = self._anvil.snapshot()
                self._worlds = {k: v for k, v in self._worlds.items() if k[0] != name}
            return self._anvil
        raise ValueError(f"unknown backend {name!r}; expected 'eth-tester' or 'anvil'")

    def world(self, backend_name: str, spec: ProtocolWorldSpec, asset_manager: Wallet,
              fund: tuple[Wallet, ...] = ()) -> tuple[ChainClient, ProtocolWorld]:
        """A chain holding `spec`'s world exactly as right after its deployment."""
        backend = self.backend(backend_name)
        key = (backend_name, spec_key(spec))
        cached = self._worlds.get(key)
        if cached is not None:
            backend.revert(cached.snapshot)
            cached.snapshot = backend.snapshot()
            chain = ChainClient(backend, clock=cached.clock)
            # The snapshot's nonces are known: no node round trip per wallet.
            for w in (*cached.world.wallets, asset_manager, *fund):
                if w.address in cached.nonces:
                    w.nonce = cached.nonces[w.address]
                else:
                    chain.sync_nonce(w)
            return chain, cached.world
        # A revert to genesis deletes every later snapshot: other worlds must redeploy.
        self._worlds = {k: v for k, v in self._worlds.items() if k[0] != backend_name}
        backend.revert(self._genesis[backend_name])
        self._genesis[backend_name] = backend.snapshot()
        if isinstance(backend, AnvilBackend):
            backend.set_eth_balance(self.admin.address, ETH_PER_ACCOUNT * 100)
        self.admin.nonce = 0
        chain = ChainClient(backend, clock=DEPLOY_AT)
        world = deploy_protocol_world(chain, self.admin, asset_manager, spec, fund=fund)
        # An empty head block: eth-tester's revert re-imports the head block, so the
        # revert then costs nothing instead of replaying the last set-up transactions.
        chain.mine()
        self.deploys += 1
        nonces = {w.address: w.nonce for w in world.wallets}
        self._worlds[key] = _Cached(backend.snapshot(), world, DEPLOY_AT, nonces)
        return chain, world

    def close(self) -> None:
        if self._anvil is not None:
            self._anvil.close()
        if self._anvil_node is not None:
            self._anvil_node.stop()
        self._anvil = None
        self._anvil_node = None
        self._ethtester = None
        self._worlds.clear()
