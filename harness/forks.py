"""Forked chains: anvil forking another chain at a pinned block.

`open_fork` starts `anvil --fork-url URL --fork-block-number N` (or forks in this process
on revm) and hands back the chain and the world found there. Where the URL comes from is the engine's business: a remote
RPC, or the local "mainnet" anvil on which the engine first ran a history scenario
(`fork_url: "scenario:PATH"`): the same code either way, only the URL differs. The world
is what `build` finds on the fork: the contracts `universe.adopt` names, read and checked
(harness/protocols/adopt.py), or, for a scenario declaring the history's own universe,
the fixture world at the addresses the same deterministic deployment gives. The fresh
runner starts with an empty ledger and finds on the fork what the history left there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.accounts import Accounts
from harness.anvil_node import AnvilNode
from harness.errors import BackendUnavailable
from harness.world import World
from runner.chain.anvil import AnvilBackend
from runner.chain.client import ChainClient
from runner.chain.rpc import redact_url
from runner.universe import Universe

if TYPE_CHECKING:
    from runner.chain.revm import RevmBackend


@dataclass
class Fork:
    chain: ChainClient
    world: World
    close: Callable[[], None]
    url: str = ""  # the fork's node, when it is one (a runner process talks to it)


def open_fork(url: str, block: int, accounts: Accounts, build: Callable[[ChainClient], World],
              engine: str = "anvil") -> Fork:
    """A fork of `url` at `block`, with the world `build` finds on it: a fresh anvil
    forking it (engine anvil), or an in-process revm forking it (engine revm)."""
    node: AnvilNode | None = None
    backend: AnvilBackend | RevmBackend
    if engine == "revm":
        from runner.chain.revm import RevmBackend

        backend = RevmBackend(fork_url=url, fork_block=block)
    else:
        try:
            node = AnvilNode(genesis_timestamp=None, extra_args=["--fork-url", url, "--fork-block-number", str(block)])
        except BackendUnavailable as exc:  # its output names the fork's URL: keep credentials out
            raise BackendUnavailable("anvil", exc.reason.replace(url, redact_url(url)), exc.hint) from None
        backend = AnvilBackend(node.url)

    def close() -> None:
        backend.close()
        if node is not None:
            node.stop()

    try:
        chain = ChainClient(backend, clock=backend.block_timestamp())
        for wallet in accounts.all():
            chain.sync_nonce(wallet)
        world = build(chain)
    except BaseException:
        close()
        raise
    return Fork(chain, world, close, node.url if node is not None else "")


def at_addresses(accounts: Accounts, universe: Universe, fault_switch: bytes) -> Callable[[ChainClient], World]:
    """The fixture world at the addresses the history's deterministic deployment gave."""
    return lambda chain: World(chain, accounts, universe, fault_switch)


__all__ = ["Fork", "at_addresses", "open_fork", "redact_url"]
