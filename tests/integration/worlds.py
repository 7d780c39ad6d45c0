"""A small world factory for integration tests: two pools, one investor, fixed times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from harness.accounts import Accounts
from harness.chains import ChainPool, WorldSpec
from harness.world import PoolDecl, TokenDecl, World
from runner.accounting import AccountingPolicy
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet
from runner.runner import ChainStrategyRunner
from runner.state import MemoryStateStore, State
from runner.strategy.loader import load_strategy
from tests.conftest import T0

TOKENS = (TokenDecl("USDC", 6), TokenDecl("WETH", 18), TokenDecl("stETH", 18, rebasing=True))
POOLS = (
    PoolDecl("WETH", "USDC", Decimal(2000), Decimal(2_000_000), Decimal("0.003")),
    PoolDecl("stETH", "USDC", Decimal(2000), Decimal(1_000_000), Decimal("0.003")),
)


@dataclass
class Bench:
    chain: ChainClient
    world: World
    state: State
    runner: ChainStrategyRunner
    store: MemoryStateStore

    def at(self, days: float) -> datetime:
        ts = T0 + timedelta(days=days)
        self.chain.set_clock(int(ts.timestamp()))
        return ts

    def tick(self, days: float) -> dict[str, Any]:
        ts = self.at(days)
        return self.runner.tick(ts, self.world.universe, self.state, {}, store=self.store)


def make_bench(pool: ChainPool, backend: str = "eth-tester", strategy: str = "runner.strategies.rebalance",
               parameters: dict[str, Any] | None = None, policy: AccountingPolicy | None = None) -> Bench:
    accounts = Accounts.for_investors(("alice",))
    spec = WorldSpec("USDC", TOKENS, POOLS, ("alice",), int((T0 - timedelta(hours=1)).timestamp()))
    chain, world = pool.world(backend, spec, accounts)
    state = State.new("test", "USDC", T0, 6)
    runner = ChainStrategyRunner(
        chain=chain, universe=world.universe, strategy=load_strategy(strategy),
        parameters=parameters or {}, asset_manager=Wallet.from_label("asset-manager"),
        accounting_policy=policy or AccountingPolicy(on_mismatch="abort"),
    )
    return Bench(chain, world, state, runner, MemoryStateStore())
