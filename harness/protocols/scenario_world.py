"""A scenario's world on the real protocols: `harness/protocols/world.py` deploys it, and
`ProtocolScenarioWorld` carries out the timeline's events on it.

A scenario chooses this world with `vault: {kind: erc4626}` (or `async`); its pools may then be on
Uniswap v2, Uniswap v3 or the fixture AMM (`dex:`). Most of `World`'s actions need
nothing new, because the real contracts share the fixture's ABI where it matters: the
vault's deposit/redeem/balanceOf are ERC-4626's, a UniswapV2Pair has the fixture Pair's
getReserves and sync, the FaultSwitch is keyed by the first hop's pool in both vaults.
What differs is overridden here: a v2 pair's `swap` takes a callback argument, and a v3
pool has no reserves to mint into, so its price shock is a real swap through SwapRouter
up to the target price (`sqrtPriceLimitX96`), funded with exactly what that swap takes.
On the async vault (ERC-7540) a deposit and a withdraw are requests, and the harness
claims what the runner settled (`claim_settled`, at the start of each instant with events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

from harness.accounts import Accounts
from harness.protocols.deploy import MAX_UINT, NO_DEADLINE
from harness.protocols.uniswap_v2 import PAIR as V2_PAIR
from harness.protocols.uniswap_v3 import POOL as V3_POOL
from harness.protocols.uniswap_v3 import SWAP_ROUTER
from harness.protocols.world import (
    VENUE_OF,
    ProtocolPoolDecl,
    ProtocolWorld,
    ProtocolWorldSpec,
    deploy_protocol_world,
)
from harness.world import Claim, PoolDecl, Redemption, TokenDecl, World
from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet
from runner.models import v3math
from runner.models.v3state import full_pool_state, read_pool_states
from runner.universe import Dex, Pool, Universe, VaultKind

#: A v3 price shock's swap: the pool's own loop, a few ticks at most (one full-range position).
V3_SHOCK_GAS = 600_000
STRATEGY_VAULT = "StrategyVault4626"
ASYNC_VAULT = "AsyncStrategyVault"


def protocol_spec(reserve: str, tokens: Sequence[TokenDecl], pools: Sequence[PoolDecl],
                  vault: VaultKind) -> ProtocolWorldSpec:
    """The protocol world a scenario's universe and vault sections describe."""
    decls = tuple(ProtocolPoolDecl(p.base, p.quote, p.price, p.depth, VENUE_OF[p.dex],
                                   int((p.fee * 1_000_000).to_integral_value())) for p in pools)
    return ProtocolWorldSpec(reserve, tuple(tokens), decls, vaults=(vault,))


def scenario_universe(world: ProtocolWorld, spec: ProtocolWorldSpec, pools: Sequence[PoolDecl], vault: VaultKind,
                      chain_id: int) -> Universe:
    """The runner's universe of a deployed protocol world: pools named by pair, each with
    its dex; the routers the vault trades each dex through; the vault of `vault`'s kind."""
    routers: dict[Dex, bytes] = {}
    factories: dict[Dex, bytes] = {}
    if world.v2 is not None:
        routers[Dex.uniswap_v2], factories[Dex.uniswap_v2] = world.v2.router, world.v2.factory
    if world.v3 is not None:
        routers[Dex.uniswap_v3], factories[Dex.uniswap_v3] = world.v3.swap_router, world.v3.factory
    if world.fixture is not None:
        routers[Dex.fixture], factories[Dex.fixture] = world.fixture.router, world.fixture.factory
    out: dict[str, Pool] = {}
    for decl, pdecl in zip(spec.pools, pools, strict=True):
        deployed = world.pools[decl.key]
        name = f"{decl.base}/{decl.quote}"
        out[name] = Pool(name, world.tokens[decl.base], world.tokens[decl.quote], deployed.address, pdecl.fee,
                         pdecl.dex)
    first = pools[0].dex if pools else Dex.fixture
    return Universe(
        world.reserve, dict(world.tokens), out, routers.get(first, b""), world.vaults[vault].address,
        world.multicall, factories.get(first, b""), chain_id, vault_kind=vault, routers=routers,
        v3_quoter=world.v3.view_quoter if world.v3 is not None else b"",
    )


@dataclass
class ProtocolScenarioWorld(World):
    """`World` on a protocol world: the same events, on the real DEXes' ABIs."""

    protocol: ProtocolWorld | None = None

    @property
    def asynchronous(self) -> bool:
        return self.universe.vault_kind == VaultKind.async_

    def _deposit_call(self, wallet: Wallet, investor: str, units: int) -> None:
        """On the async vault a deposit is a request (`requestDeposit`): the assets wait in
        the vault, outside its NAV, until the runner settles the epoch."""
        if not self.asynchronous:
            super()._deposit_call(wallet, investor, units)
            return
        self._tx(wallet, self.universe.vault, ASYNC_VAULT, "requestDeposit", units, wallet.address, wallet.address,
                 action=f"deposit request by {investor}")

    def claim_settled(self) -> list[Claim]:
        """Every investor's settled requests claimed, in the investors' order, in one block:
        deposit shares to the investor (`deposit(maxDeposit)`), redemption assets to the
        investor (`redeem(maxRedeem)`). The harness does this at the start of every instant
        with events, before them: an investor's later withdraw then finds their shares in
        their wallet, and a claim moves nothing the strategy owns (shares already minted,
        assets already reserved at settlement). Nothing to claim sends nothing. A
        redemption's claim is its payment: the `withdrawal` expectation sees it as paid."""
        if not self.asynchronous:
            return []
        fn = artifact(ASYNC_VAULT).fn
        vault = self.universe.vault
        reserve = self.universe.reserve
        wanted: list[tuple[str, bytes, int, int]] = []
        for name, investor in self.accounts.investors.items():  # the scenario's order
            address = investor.address
            assets, shares = (int(v) for v in self.chain.read_many(
                [(vault, fn("maxDeposit"), (address,)), (vault, fn("maxRedeem"), (address,))]))
            if assets or shares:
                wanted.append((name, address, assets, shares))
        claims: list[Claim] = []
        if not wanted:
            return claims
        with self.block():
            for name, address, assets, shares in wanted:
                wallet = self.accounts.investor(name)
                if assets:
                    self._tx(wallet, vault, ASYNC_VAULT, "deposit", assets, address, address,
                             action=f"deposit claim by {name}")
                    claims.append(Claim(name, False, f"{name} claims the shares of a settled deposit of "
                                        f"{reserve.from_units(assets)} {reserve.symbol}"))
                if shares:
                    self._tx(wallet, vault, ASYNC_VAULT, "redeem", shares, address, address,
                             action=f"redemption claim by {name}")
                    claims.append(Claim(name, True, f"{name} claims the assets of {reserve.from_units(shares)} "
                                        "settled redeemed shares"))
        return claims

    def withdraw(self, investor: str, fraction: Decimal | None, shares: Decimal | None) -> Redemption:
        """A redemption the vault's cash can pay is redeemed now; a larger one joins the
        ERC-4626 vault's FIFO queue (`requestRedeem`), as its owner would do after the
        vault refused it (ERC4626ExceededMaxRedeem), to be paid at a later NAV. On the
        async vault every redemption is a request (queued until the runner settles it)."""
        wallet = self.accounts.investor(investor)
        if fraction is not None:
            units = int((Decimal(self.investor_shares(investor)) * fraction).to_integral_value(ROUND_DOWN))
        else:
            assert shares is not None
            units = self.universe.reserve.to_units(shares)
        vault = self.universe.vault
        if self.asynchronous:
            self._tx(wallet, vault, ASYNC_VAULT, "requestRedeem", units, wallet.address, wallet.address,
                     action=f"redemption request by {investor}")
            return Redemption(units, queued=True)
        payable = int(self.chain.read(vault, artifact(STRATEGY_VAULT).fn("maxRedeem"), wallet.address))
        if units <= payable:
            return super().withdraw(investor, fraction, shares)
        self._tx(wallet, vault, STRATEGY_VAULT, "requestRedeem", units, wallet.address, wallet.address,
                 action=f"queued withdrawal by {investor}")
        return Redemption(units, queued=True)

    def _sync_pools(self, token: object) -> None:
        # A rebase: constant-product pairs re-read their balances; a v3 pool has no reserves.
        for pool in self._pairs_with(token):  # type: ignore[arg-type]
            if pool.dex == Dex.uniswap_v2:
                self._tx(self.accounts.admin, pool.address, V2_PAIR, "sync")
            elif pool.dex == Dex.fixture:
                self._tx(self.accounts.admin, pool.address, "Pair", "sync")

    def _pair_swap(self, pool: Pool, amount0_out: int, amount1_out: int, to: bytes) -> None:
        if pool.dex == Dex.uniswap_v2:  # swap(amount0Out, amount1Out, to, data): no callback
            self._tx(self.accounts.market, pool.address, V2_PAIR, "swap", amount0_out, amount1_out, to, b"",
                     action="price shock swap")
            return
        super()._pair_swap(pool, amount0_out, amount1_out, to)

    def price_shock(self, pool: Pool, move: Decimal | None, price: Decimal | None) -> Decimal:
        if pool.dex != Dex.uniswap_v3:
            return super().price_shock(pool, move, price)
        return self._v3_shock(pool, move, price)

    def _v3_shock(self, pool: Pool, move: Decimal | None, price: Decimal | None) -> Decimal:
        """A third party swaps through SwapRouter until the pool's price is the target.

        The swap's amount is what the pool's own loop (v3math, on the pool's state read
        now) takes to reach the target sqrt price; that much is minted to the market,
        approved and swapped in one block, with the target as the price limit so the pool
        stops exactly there whatever the rounding."""
        assert self.protocol is not None and self.protocol.v3 is not None
        base_is_token0 = pool.base_is_token0
        # The runner's reader (hand-encoded aggregate3), never its cache: the harness reads for itself.
        state = read_pool_states(self.chain, [pool.address], self.universe.multicall, cached=False)[pool.address]
        current = _price_of(state.sqrt_price_x96, pool)
        target = price if price is not None else current * (1 + (move or Decimal(0)))
        if target <= 0:
            return current
        scale = Decimal(10) ** (pool.quote.decimals - pool.base.decimals)
        ratio = target * scale if base_is_token0 else 1 / (target * scale)  # token1 units per token0 unit
        with localcontext() as ctx:
            ctx.prec = 80
            limit = int((ratio.sqrt() * Decimal(2**96)).to_integral_value())
        limit = min(max(limit, v3math.MIN_SQRT_RATIO + 1), v3math.MAX_SQRT_RATIO - 1)
        if limit == state.sqrt_price_x96:
            return current
        zero_for_one = limit < state.sqrt_price_x96
        try:
            result = v3math.swap(state, zero_for_one, 2**200, limit)
        except v3math.TickDataMissing:  # a move beyond the window read: the whole bitmap
            state = full_pool_state(self.chain, pool.address, self.universe.multicall, cached=False)
            result = v3math.swap(state, zero_for_one, 2**200, limit)
        amount_in = result.amount_in(zero_for_one)
        if amount_in <= 0:
            return current
        token0, token1 = (pool.base, pool.quote) if base_is_token0 else (pool.quote, pool.base)
        token_in, token_out = (token0, token1) if zero_for_one else (token1, token0)
        market = self.accounts.market
        router = self.protocol.v3.swap_router
        params = (token_in.address, token_out.address, pool.fee_pips, market.address, NO_DEADLINE, amount_in, 0, limit)
        allowance = int(self.chain.read(token_in.address, artifact("TestToken").fn("allowance"), market.address, router))
        with self.block():
            self.mint(token_in, market.address, amount_in)
            if allowance < amount_in:  # once per token, not per shock: an approve costs a transaction
                self._tx(market, token_in.address, "TestToken", "approve", router, MAX_UINT,
                         action="price shock approve")
            self._tx(market, router, SWAP_ROUTER, "exactInputSingle", params, gas=V3_SHOCK_GAS,
                     action="price shock swap")
        sqrt_after = int(self.chain.read(pool.address, artifact(V3_POOL).fn("slot0"))[0])
        return _price_of(sqrt_after, pool)


def _price_of(sqrt_price_x96: int, pool: Pool) -> Decimal:
    """Quote per base of a v3 pool at `sqrt_price_x96` (token1 per token0, squared)."""
    with localcontext() as ctx:
        ctx.prec = 80
        ratio = Decimal(sqrt_price_x96) ** 2 / Decimal(2**192)
        scale = Decimal(10) ** (pool.base.decimals - pool.quote.decimals)
        price = ratio * scale if pool.base_is_token0 else scale / ratio
    return +price  # back to the caller's precision


def deploy_scenario_world(chain: ChainClient, accounts: Accounts, reserve: str, tokens: Sequence[TokenDecl],
                          pools: Sequence[PoolDecl], vault: VaultKind) -> ProtocolScenarioWorld:
    """Deploy the protocol world of a scenario from the admin, in one fixed order."""
    spec = protocol_spec(reserve, tokens, pools, vault)
    others = [w for w in accounts.all() if w is not accounts.admin and w is not accounts.asset_manager]
    world = deploy_protocol_world(chain, accounts.admin, accounts.asset_manager, spec, fund=others)
    universe = scenario_universe(world, spec, pools, vault, chain.chain_id)
    return ProtocolScenarioWorld(chain, accounts, universe, world.fault_switch, protocol=world)


__all__ = ["ProtocolScenarioWorld", "deploy_scenario_world", "protocol_spec", "scenario_universe"]
