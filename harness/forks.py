"""Forked chains: a scenario that runs on anvil forking another chain at a block.

`fork_url` is either an RPC URL, or `scenario:PATH`: the harness first runs that history
scenario on a local anvil that plays "mainnet", then forks it at `fork_block`. The
forked scenario must declare the same universe (same world, same addresses); its fresh
runner starts with an empty ledger and finds on the fork what the history left there.

Forking a remote chain works the same way at the node level (anvil --fork-url URL
--fork-block-number N); the universe must then already exist there at the addresses the
deterministic deployment gives, which is true for a chain the harness itself deployed
(a shared devnet), not for public mainnet pools.

`engine="revm"` (a fork scenario run with `--backend revm`) forks in process instead:
pyrevm reads the forked node's accounts and slots lazily, no second anvil is started.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.accounts import Accounts
from harness.anvil_node import AnvilNode
from harness.chains import ChainPool
from harness.errors import ScenarioRuntimeError
from harness.scenario.model import Scenario
from harness.world import World
from runner.chain.anvil import AnvilBackend
from runner.chain.client import ChainClient
from runner.chain.revm import RevmBackend


@dataclass
class Fork:
    chain: ChainClient
    world: World
    close: Callable[[], None]


def open_fork(scenario: Scenario, accounts: Accounts, engine: str = "anvil") -> Fork:
    from harness.engine import ScenarioRun, world_spec
    from harness.scenario import load_scenario

    spec = scenario.chain
    src = scenario.source.path
    if spec.fork_url is None or spec.fork_block is None:
        raise ScenarioRuntimeError(src, None, "chain", "backend anvil-fork needs chain.fork_url and chain.fork_block")
    mainnet: ChainPool | None = None
    if spec.fork_url.startswith("scenario:"):
        history_path = Path(spec.fork_url.removeprefix("scenario:"))
        history = load_scenario(history_path)
        if world_spec(history).key(with_time=False) != world_spec(scenario).key(with_time=False):
            raise ScenarioRuntimeError(src, None, "chain.fork_url",
                                       f"the history scenario {history_path} declares another universe or investors; "
                                       "a fork finds contracts by the addresses the same world would have")
        mainnet = ChainPool()
        ScenarioRun(history, backend="anvil", pool=mainnet).run()
        url = mainnet.node_url
        universe_world = mainnet.deployed_universe("anvil", world_spec(history))
    else:
        raise ScenarioRuntimeError(src, None, "chain.fork_url",
                                   "only `scenario:PATH` forks are supported offline; see harness/forks.py for remote RPCs")
    node: AnvilNode | None = None
    backend: AnvilBackend | RevmBackend
    if engine == "revm":
        backend = RevmBackend(fork_url=url, fork_block=spec.fork_block)
    else:
        node = AnvilNode(genesis_timestamp=None,
                         extra_args=["--fork-url", url, "--fork-block-number", str(spec.fork_block)])
        backend = AnvilBackend(node.url)
    chain = ChainClient(backend, clock=backend.block_timestamp())
    for wallet in accounts.all():
        chain.sync_nonce(wallet)
    world = World(chain, accounts, universe_world.universe, universe_world.fault_switch)

    def close() -> None:
        backend.close()
        if node is not None:
            node.stop()
        if mainnet is not None:
            mainnet.close()

    return Fork(chain, world, close)
