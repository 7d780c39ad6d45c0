"""Uniswap v2 from its published build: factory, Router02 and pairs with real LP positions.

A pool is declared like a fixture pool (harness/world.py): `price` in quote per base and
`depth` in quote tokens, so its reserves are `depth` quote and `depth / price` base.
Liquidity is added the way an LP does it: tokens minted to the liquidity provider, who
approves Router02 and calls `addLiquidity`; the pair mints the LP tokens to the provider
(less the 1,000 units v2 locks forever).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eth_hash.auto import keccak

from harness.protocols.deploy import NO_DEADLINE, Deployer
from harness.protocols.errors import UnexpectedChainState
from harness.protocols.tokens import APPROVE_GAS, mint
from runner.chain.abi import artifact
from runner.chain.wallet import Wallet
from runner.universe import Token

FACTORY = "uniswap/UniswapV2Factory"
PAIR = "uniswap/UniswapV2Pair"
ROUTER02 = "uniswap/UniswapV2Router02"
WETH9 = "uniswap/WETH9"
V2_FEE = Decimal("0.003")  # fixed in UniswapV2Library.getAmountOut (997/1000)
MINIMUM_LIQUIDITY = 1000

WETH_DEPLOY_GAS = 750_000
FACTORY_DEPLOY_GAS = 3_600_000
ROUTER_DEPLOY_GAS = 5_500_000
CREATE_PAIR_GAS = 3_000_000
ADD_LIQUIDITY_GAS = 300_000


def pair_init_code_hash() -> bytes:
    """keccak256 of the published pair creation code: what Router02's pairFor hard-codes."""
    return bytes(keccak(artifact(PAIR).bytecode))


def create2_address(deployer: bytes, salt: bytes, init_code_hash: bytes) -> bytes:
    return bytes(keccak(b"\xff" + deployer + salt + init_code_hash)[-20:])


@dataclass(frozen=True)
class UniswapV2Deployment:
    """The v2 core and periphery contracts of one chain."""

    factory: bytes
    router: bytes
    weth: bytes
    init_code_hash: bytes

    def pair_address(self, token_a: bytes, token_b: bytes) -> bytes:
        """UniswapV2Library.pairFor: the CREATE2 address of the pair of two tokens."""
        t0, t1 = sorted((token_a, token_b))
        return create2_address(self.factory, keccak(t0 + t1), self.init_code_hash)


@dataclass(frozen=True)
class V2Pool:
    """A pair as deployed: token order, the reserves it started with, the LP's position."""

    pair: str  # "BASE/QUOTE"
    address: bytes
    base: Token
    quote: Token
    token0: bytes
    token1: bytes
    reserve0: int
    reserve1: int
    provider: bytes
    lp_tokens: int
    fee: Decimal = V2_FEE

    @property
    def base_is_token0(self) -> bool:
        return self.token0 == self.base.address


def deploy_weth(d: Deployer) -> bytes:
    """WETH9 as published with v2-periphery; v2 and v3 routers share it."""
    return d.deploy(WETH9, gas=WETH_DEPLOY_GAS)


def deploy_uniswap_v2(d: Deployer, weth: bytes) -> UniswapV2Deployment:
    """UniswapV2Factory (fee switch off, the admin may turn it on) and Router02."""
    factory = d.deploy(FACTORY, d.admin.address, gas=FACTORY_DEPLOY_GAS)
    router = d.deploy(ROUTER02, factory, weth, gas=ROUTER_DEPLOY_GAS)
    return UniswapV2Deployment(factory, router, weth, pair_init_code_hash())


def reserves_for(base: Token, quote: Token, price: Decimal, depth: Decimal) -> tuple[int, int]:
    """(base units, quote units) of a pool declared at `price` (quote per base) and
    `depth` (quote tokens): the same rule as the fixture pools."""
    if price <= 0 or depth <= 0:
        raise ValueError(f"price and depth must be positive, got price={price} depth={depth}")
    base_units, quote_units = base.to_units(depth / price), quote.to_units(depth)
    if base_units == 0 or quote_units == 0:
        raise ValueError(f"{base.symbol}/{quote.symbol} at price {price} and depth {depth} rounds to an empty reserve")
    return base_units, quote_units


def create_v2_pool(d: Deployer, v2: UniswapV2Deployment, base: Token, quote: Token, *, price: Decimal,
                   depth: Decimal, provider: Wallet) -> V2Pool:
    """Create the pair and add its first liquidity from `provider` through Router02."""
    base_units, quote_units = reserves_for(base, quote, price, depth)
    name = f"{base.symbol}/{quote.symbol}"
    d.send(d.admin, v2.factory, FACTORY, "createPair", base.address, quote.address, gas=CREATE_PAIR_GAS,
           action=f"create v2 pair {name}")
    address = d.read_address(v2.factory, FACTORY, "getPair", base.address, quote.address)
    expected = v2.pair_address(base.address, quote.address)
    if address != expected:
        raise UnexpectedChainState(
            f"the v2 factory put {name} at 0x{address.hex()}, Router02 would look for it at 0x{expected.hex()}: "
            "the pair bytecode is not the one the router was published with")
    with d.block():
        mint(d, base, provider.address, base_units)
        mint(d, quote, provider.address, quote_units)
        d.send(provider, base.address, "TestToken", "approve", v2.router, base_units, gas=APPROVE_GAS)
        d.send(provider, quote.address, "TestToken", "approve", v2.router, quote_units, gas=APPROVE_GAS)
        d.send(provider, v2.router, ROUTER02, "addLiquidity", base.address, quote.address, base_units, quote_units,
               0, 0, provider.address, NO_DEADLINE, gas=ADD_LIQUIDITY_GAS, action=f"add liquidity to {name}")
    token0, token1 = sorted((base.address, quote.address))
    reserve0, reserve1, _ = d.read(address, PAIR, "getReserves")
    lp = int(d.read(address, PAIR, "balanceOf", provider.address))
    return V2Pool(name, address, base, quote, token0, token1, int(reserve0), int(reserve1), provider.address, lp)
