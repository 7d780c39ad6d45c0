"""A whole world on the real protocols: tokens, Uniswap v2 and v3 (and optionally the
fixture AMM), pools at declared prices and depths, and strategy vaults, deployed by the
admin in one fixed order so every backend gives the same addresses.

Order: fund the cast -> Multicall, FaultSwitch -> tokens (declaration order) -> WETH9 ->
Uniswap v2 -> Uniswap v3 -> fixture Factory/Router -> pools (declaration order) -> vaults.
Protocols no pool uses are not deployed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from harness.protocols.deploy import Deployer
from harness.protocols.faults import deploy_fault_switch
from harness.protocols.tokens import deploy_token, mint
from harness.protocols.uniswap_v2 import (
    UniswapV2Deployment,
    V2Pool,
    create_v2_pool,
    deploy_uniswap_v2,
    deploy_weth,
    reserves_for,
)
from harness.protocols.uniswap_v3 import (
    FULL_RANGE,
    UniswapV3Deployment,
    V3Pool,
    V3Range,
    create_v3_pool,
    deploy_uniswap_v3,
)
from harness.protocols.vaults import (
    RouterKind,
    TrackedAsset,
    VaultDeployment,
    VaultKind,
    deploy_vault,
    v2_route,
    v3_route,
)
from harness.world import TokenDecl
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet
from runner.models.routing import shortest_paths
from runner.models.v3math import FEE_TICK_SPACING
from runner.universe import Dex, Token

Venue = Literal["v2", "v3", "fixture"]
"""This layer's short names of the exchanges (pool keys like WETH/USDC@v3-500)."""
VENUE_OF: dict[Dex, Venue] = {Dex.fixture: "fixture", Dex.uniswap_v2: "v2", Dex.uniswap_v3: "v3"}
"""The venue of each dex of the scenario format (runner.universe.Dex)."""
MULTICALL_DEPLOY_GAS = 400_000
FIXTURE_FACTORY_GAS = 1_500_000
FIXTURE_ROUTER_GAS = 1_500_000
FIXTURE_PAIR_GAS = 1_100_000
SYNC_GAS = 100_000
ETH_FUNDING = 10**22
PROVIDER_LABEL = "liquidity-provider"


@dataclass(frozen=True)
class ProtocolPoolDecl:
    """A pool: `price` quote per base, `depth` quote tokens (as for fixture pools).
    `fee` in pips (v2 is always 3000; fixture pools take any fee); `ranges` for v3."""

    base: str
    quote: str
    price: Decimal
    depth: Decimal
    venue: Venue = "v2"
    fee: int = 3000
    ranges: tuple[V3Range, ...] = (FULL_RANGE,)

    @property
    def key(self) -> str:
        """Unique name of the pool: pair, venue and, for v3 and the fixture AMM, fee."""
        suffix = "" if self.venue == "v2" else f"-{self.fee}"
        return f"{self.base}/{self.quote}@{self.venue}{suffix}"


@dataclass(frozen=True)
class ProtocolWorldSpec:
    reserve: str
    tokens: tuple[TokenDecl, ...]
    pools: tuple[ProtocolPoolDecl, ...]
    vaults: tuple[VaultKind, ...] = (VaultKind.erc4626, VaultKind.async_)
    #: token symbol -> pool key whose route values it in the vaults; by default the first
    #: declared pool between the token and the reserve.
    valuation: tuple[tuple[str, str], ...] = ()

    def validate(self) -> None:
        """Reject a declaration that could not be deployed, before any transaction."""
        symbols = [t.symbol for t in self.tokens]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"a token is declared twice: {symbols}")
        if self.reserve not in symbols:
            raise ValueError(f"reserve {self.reserve} is not among the tokens {symbols}")
        keys = [p.key for p in self.pools]
        for p in self.pools:
            for symbol in (p.base, p.quote):
                if symbol not in symbols:
                    raise ValueError(f"pool {p.key}: unknown token {symbol}; the tokens are {symbols}")
            if keys.count(p.key) > 1:
                raise ValueError(f"pool {p.key} is declared twice")
            if p.venue == "v2" and p.fee != 3000:
                raise ValueError(f"{p.key}: Uniswap v2 has one fee, 0.3% (3000 pips), not {p.fee}")
            if p.venue == "v3" and p.fee not in FEE_TICK_SPACING:
                raise ValueError(f"{p.key}: {p.fee} is not a v3 fee tier {sorted(FEE_TICK_SPACING)}")
            if p.venue == "fixture" and p.fee % 100:
                raise ValueError(f"{p.key}: the fixture AMM charges whole basis points, not {p.fee} pips")
        for symbol, key in self.valuation:
            decl = next((p for p in self.pools if p.key == key), None)
            if decl is None or {decl.base, decl.quote} != {symbol, self.reserve}:
                raise ValueError(f"valuation of {symbol}: {key} is not a declared pool of {symbol}/{self.reserve}")


@dataclass(frozen=True)
class FixtureAmm:
    factory: bytes
    router: bytes


@dataclass(frozen=True)
class FixturePool:
    pair: str
    address: bytes
    base: Token
    quote: Token
    fee: int  # pips


@dataclass
class ProtocolWorld:
    """What `deploy_protocol_world` deployed; everything the runner will need to trade."""

    spec: ProtocolWorldSpec
    tokens: dict[str, Token]
    multicall: bytes
    fault_switch: bytes
    weth: bytes
    v2: UniswapV2Deployment | None
    v3: UniswapV3Deployment | None
    fixture: FixtureAmm | None
    pools: dict[str, V2Pool | V3Pool | FixturePool]
    vaults: dict[str, VaultDeployment]
    provider: Wallet
    wallets: list[Wallet] = field(default_factory=list)

    @property
    def reserve(self) -> Token:
        return self.tokens[self.spec.reserve]

    def resync_nonces(self, chain: ChainClient) -> None:
        """After a snapshot revert: every wallet's nonce from the chain."""
        for w in self.wallets:
            chain.sync_nonce(w)


def deploy_protocol_world(chain: ChainClient, admin: Wallet, asset_manager: Wallet, spec: ProtocolWorldSpec, *,
                          fund: Sequence[Wallet] = (), provider: Wallet | None = None) -> ProtocolWorld:
    """Deploy `spec` from `admin`; `fund` (and the liquidity provider) get ETH for gas."""
    spec.validate()
    d = Deployer(chain, admin)
    lp = provider or Wallet.from_label(PROVIDER_LABEL)
    with d.block():
        for w in (asset_manager, lp, *fund):
            d.fund(w.address, ETH_FUNDING)
    multicall = d.deploy("Multicall", gas=MULTICALL_DEPLOY_GAS)
    fault_switch = deploy_fault_switch(d)
    tokens: dict[str, Token] = {}
    with d.block():
        for t in spec.tokens:
            tokens[t.symbol] = deploy_token(d, t.symbol, t.decimals, transfer_fee=t.transfer_fee, rebasing=t.rebasing)
    venues = {p.venue for p in spec.pools}
    weth = deploy_weth(d)
    v2 = deploy_uniswap_v2(d, weth) if "v2" in venues else None
    v3 = deploy_uniswap_v3(d, weth) if "v3" in venues else None
    fixture = None
    if "fixture" in venues:
        factory = d.deploy("Factory", gas=FIXTURE_FACTORY_GAS)
        fixture = FixtureAmm(factory, d.deploy("Router", factory, fault_switch, gas=FIXTURE_ROUTER_GAS))
    pools: dict[str, V2Pool | V3Pool | FixturePool] = {}
    for p in spec.pools:
        base, quote = tokens[p.base], tokens[p.quote]
        if p.venue == "v2":
            assert v2 is not None
            pools[p.key] = create_v2_pool(d, v2, base, quote, price=p.price, depth=p.depth, provider=lp)
        elif p.venue == "v3":
            assert v3 is not None
            pools[p.key] = create_v3_pool(d, v3, base, quote, fee=p.fee, price=p.price, depth=p.depth, provider=lp,
                                          ranges=p.ranges)
        else:
            assert fixture is not None
            pools[p.key] = _fixture_pool(d, fixture, base, quote, p)
    vaults: dict[str, VaultDeployment] = {}
    for kind in spec.vaults:
        routers: list[tuple[bytes, RouterKind]] = []
        if v2 is not None:
            routers.append((v2.router, RouterKind.UNISWAP_V2))
        if v3 is not None:
            routers.append((v3.swap_router, RouterKind.UNISWAP_V3))
        if fixture is not None:
            routers.append((fixture.router, RouterKind.FIXTURE))
        tracked = _tracked_assets(spec, tokens, v2, v3, fixture)
        vaults[kind] = deploy_vault(d, kind, asset=tokens[spec.reserve], asset_manager=asset_manager.address,
                                    name=f"Strategy Vault ({kind})", symbol="SV", routers=routers, tracked=tracked,
                                    fault_switch=fault_switch)
    return ProtocolWorld(spec, tokens, multicall, fault_switch, weth, v2, v3, fixture, pools, vaults, lp,
                         [admin, asset_manager, lp, *fund])


def _fixture_pool(d: Deployer, amm: FixtureAmm, base: Token, quote: Token, p: ProtocolPoolDecl) -> FixturePool:
    """A fixture Pair as harness/world.py makes it: tokens minted in, then `sync`."""
    d.send(d.admin, amm.factory, "Factory", "createPair", base.address, quote.address, p.fee // 100,
           gas=FIXTURE_PAIR_GAS, action=f"create fixture pair {p.key}")
    address = d.read_address(amm.factory, "Factory", "getPair", base.address, quote.address)
    base_units, quote_units = reserves_for(base, quote, p.price, p.depth)
    with d.block():
        mint(d, quote, address, quote_units)
        mint(d, base, address, base_units)
        d.send(d.admin, address, "Pair", "sync", gas=SYNC_GAS)
    return FixturePool(f"{p.base}/{p.quote}", address, base, quote, p.fee)


def _multi_hop(spec: ProtocolWorldSpec, tokens: dict[str, Token], path: tuple[str, ...],
               v2: UniswapV2Deployment | None, v3: UniswapV3Deployment | None,
               fixture: FixtureAmm | None) -> TrackedAsset:
    """Value path[0] along `path` (to the reserve) on the exchange its pools share (the
    scenario model keeps a route on one exchange); the last declared pool of each hop,
    as the runner's routing keeps it."""
    hops = [next(p for p in reversed(spec.pools) if {p.base, p.quote} == {a, b}) for a, b in zip(path, path[1:],
                                                                                              strict=False)]
    venue = hops[0].venue
    if any(h.venue != venue for h in hops):
        raise ValueError(f"the route {'/'.join(path)} crosses exchanges: a vault values a holding on one")
    chain = [tokens[s] for s in path]
    if venue == "v3":
        assert v3 is not None
        return v3_route(chain[0], v3.view_quoter, chain, [h.fee for h in hops])
    router = v2.router if venue == "v2" and v2 is not None else fixture.router if fixture is not None else None
    assert router is not None
    return v2_route(chain[0], router, chain)


def _tracked_assets(spec: ProtocolWorldSpec, tokens: dict[str, Token], v2: UniswapV2Deployment | None, v3: UniswapV3Deployment | None,
                    fixture: FixtureAmm | None) -> list[TrackedAsset]:
    """Every non-reserve token, valued through one pool to the reserve, or (a token quoted
    in another token) along the route the runner trades it by (routing.shortest_paths):
    a vault that left such a holding out priced deposits off a NAV short of it (fuzz seed
    2026, run 50: WBTC held through WBTC/LINK, deposits priced 1,272 USDC low)."""
    chosen = dict(spec.valuation)
    reserve = tokens[spec.reserve]
    routes = shortest_paths(spec.reserve, tokens, ((p.base, p.quote) for p in spec.pools))
    out = []
    for symbol, token in tokens.items():
        if symbol == spec.reserve:
            continue
        key = chosen.get(symbol) or next(
            (p.key for p in spec.pools if {p.base, p.quote} == {symbol, spec.reserve}), None)
        if key is None:
            if symbol in routes:  # no pool to the reserve: the route through other tokens
                out.append(_multi_hop(spec, tokens, routes[symbol][::-1], v2, v3, fixture))
            continue  # no route to the reserve at all: not tracked, so the vaults cannot buy it
        decl = next(p for p in spec.pools if p.key == key)
        if decl.venue == "v2":
            assert v2 is not None
            out.append(v2_route(token, v2.router, [token, reserve]))
        elif decl.venue == "v3":
            assert v3 is not None
            out.append(v3_route(token, v3.view_quoter, [token, reserve], [decl.fee]))
        else:
            assert fixture is not None
            out.append(v2_route(token, fixture.router, [token, reserve]))
    return out

