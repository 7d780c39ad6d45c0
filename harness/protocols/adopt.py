"""A world adopted by address: the contracts a chain already holds, read and checked,
never deployed.

`universe.adopt` names the vault, its asset manager, the exchanges' factories, routers
and quoter, and every token and pool gives its `address`. `adopt_world` reads what the
runner needs from the chain (decimals, symbols, pool tokens and fee tiers, the vault's
asset, asset manager and fault switch) and compares it with what the scenario says.
Anything else is refused as `AdoptionMismatch`: one line, at the scenario key, naming
the address and what was found there (`universe.pools[0].address 0xabc..: expected a
Uniswap v3 pool of WETH/USDC at 0.05%, found token0=... fee=3000`).

The runner then sends as the vault's asset manager: with the harness's own key when
the harness holds it, by impersonation otherwise (`World.impersonate`; the node's
ability, refused on a backend without it) -- the way an incident on a real vault is
replayed without its key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from harness.accounts import Accounts
from harness.errors import ScenarioRuntimeError
from harness.protocols.deploy import as_address
from harness.protocols.scenario_world import STRATEGY_VAULT, ProtocolScenarioWorld
from harness.protocols.uniswap_v2 import FACTORY as V2_FACTORY
from harness.protocols.uniswap_v2 import PAIR as V2_PAIR
from harness.protocols.uniswap_v2 import ROUTER02, UniswapV2Deployment, pair_init_code_hash
from harness.protocols.uniswap_v3 import FACTORY as V3_FACTORY
from harness.protocols.uniswap_v3 import POOL as V3_POOL
from harness.protocols.uniswap_v3 import SWAP_ROUTER, UniswapV3Deployment
from harness.protocols.world import ProtocolPoolDecl, ProtocolWorld, ProtocolWorldSpec
from harness.scenario.model import PoolSpec, Scenario
from harness.world import ETH_FUNDING, TokenDecl
from runner.chain.abi import artifact
from runner.chain.backend import Ability
from runner.chain.client import ChainClient
from runner.chain.errors import ChainError
from runner.chain.wallet import checksum
from runner.universe import Dex, Pool, Token, Universe, VaultKind

ZERO = b"\x00" * 20
VENUE = {Dex.uniswap_v2: "v2", Dex.uniswap_v3: "v3"}


class AdoptionMismatch(ScenarioRuntimeError):
    """An adopted address holds something other than what the scenario says."""


def _hex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def _percent(fee: Decimal) -> str:
    text = format(fee * 100, "f").rstrip("0").rstrip(".")
    return f"{text}%"


@dataclass
class _Reader:
    """Reads at adopted addresses; every refusal located at the scenario key it is about."""

    chain: ChainClient
    scenario: Scenario

    def fail(self, loc: tuple[str | int, ...], address: bytes | None, message: str) -> AdoptionMismatch:
        from harness.scenario.loader import locate

        path = self.scenario.source.path
        line, key = locate(path, ("universe", *loc))
        where = f"{key} {checksum(address)}" if address is not None else key
        return AdoptionMismatch(path, line, "", f"{where}: {message}")

    def contract(self, loc: tuple[str | int, ...], address: bytes, what: str) -> None:
        """Code must be there: an empty account is the commonest wrong paste (another chain)."""
        if not self.chain.backend.get_code(address):
            raise self.fail(loc, address, f"expected {what}, found no contract (no code at block "
                                          f"{self.chain.block_number()} of chain {self.chain.chain_id})")

    def read(self, loc: tuple[str | int, ...], address: bytes, contract: str, fn: str, what: str, *args: Any) -> Any:
        try:
            return self.chain.read(address, artifact(contract).fn(fn), *args)
        except (ChainError, ValueError) as exc:
            raise self.fail(loc, address, f"expected {what}, found a contract whose {fn}() fails ({exc})") from None

    def address(self, loc: tuple[str | int, ...], address: bytes, contract: str, fn: str, what: str,
                *args: Any) -> bytes:
        return as_address(self.read(loc, address, contract, fn, what, *args))

    def symbol(self, loc: tuple[str | int, ...], address: bytes) -> str:
        """symbol() as a string, or as the bytes32 some old tokens (MKR) return."""
        try:
            raw = self.chain.backend.call(address, artifact("TestToken").fn("symbol").encode())
        except ChainError as exc:
            raise self.fail(loc, address, f"expected an ERC-20 token, found a contract whose symbol() fails ({exc})") from None
        try:
            return str(artifact("TestToken").fn("symbol").decode_one(raw))
        except Exception:  # noqa: BLE001 - not an ABI string: the bytes32 form, or garbage
            return raw[:32].rstrip(b"\x00").decode("utf-8", errors="replace")


def adopt_world(chain: ChainClient, accounts: Accounts, scenario: Scenario) -> ProtocolScenarioWorld:
    """The world at the addresses `scenario.universe.adopt` names, checked against the scenario."""
    u = scenario.universe
    adopt = u.adopt
    assert adopt is not None, "adopt_world needs universe.adopt"
    r = _Reader(chain, scenario)
    if scenario.vault.kind != VaultKind.erc4626:
        raise r.fail(("adopt", "vault"), None, f"expected vault: {{kind: erc4626}} beside it (an adopted vault is a "
                                               f"StrategyVault4626), found kind {scenario.vault.kind}")
    tokens = _tokens(r, scenario)
    vault = _hex(adopt.vault)
    r.contract(("adopt", "vault"), vault, "an ERC-4626 strategy vault")
    asset = r.address(("adopt", "vault"), vault, STRATEGY_VAULT, "asset", "an ERC-4626 strategy vault")
    reserve = tokens[u.reserve]
    if asset != reserve.address:
        raise r.fail(("adopt", "vault"), vault, f"expected a vault of {u.reserve} ({checksum(reserve.address)}), "
                                                f"found a vault of asset {checksum(asset)}")
    manager = r.address(("adopt", "vault"), vault, STRATEGY_VAULT, "assetManager", "a strategy vault with an asset manager")
    if adopt.asset_manager is not None and _hex(adopt.asset_manager) != manager:
        raise r.fail(("adopt", "asset_manager"), _hex(adopt.asset_manager),
                     f"expected the vault's asset manager, found that the vault's assetManager() is {checksum(manager)}")
    fault_switch = r.address(("adopt", "vault"), vault, STRATEGY_VAULT, "faultSwitch", "a strategy vault")
    multicall = _hex(adopt.multicall)
    r.contract(("adopt", "multicall"), multicall, "a Multicall3-compatible contract")
    v2, v3 = _exchanges(r, scenario)
    pools = {}
    for index, spec in enumerate(u.pools):
        pools[spec.pair] = _pool(r, index, spec, tokens, v2, v3)
    routers: dict[Dex, bytes] = {}
    factories: dict[Dex, bytes] = {}
    if v2 is not None:
        routers[Dex.uniswap_v2], factories[Dex.uniswap_v2] = v2.router, v2.factory
    if v3 is not None:
        routers[Dex.uniswap_v3], factories[Dex.uniswap_v3] = v3.swap_router, v3.factory
    first = u.pools[0].dex if u.pools else Dex.uniswap_v2
    universe = Universe(
        reserve, tokens, pools, routers.get(first, b""), vault, multicall, factories.get(first, b""),
        chain.chain_id, vault_kind=VaultKind.erc4626, routers=routers,
        v3_quoter=v3.view_quoter if v3 is not None else b"",
    )
    _fund(chain, accounts)
    held = manager in {w.address for w in accounts.all()}
    protocol = _protocol(scenario, universe, v2, v3, fault_switch, accounts)
    return ProtocolScenarioWorld(chain, accounts, universe, fault_switch, protocol=protocol,
                                 impersonate=None if held else manager)


def _tokens(r: _Reader, scenario: Scenario) -> dict[str, Token]:
    out = {}
    for symbol, spec in scenario.universe.tokens.items():
        assert spec.address is not None  # the model requires it under adopt
        address = _hex(spec.address)
        loc: tuple[str | int, ...] = ("tokens", symbol, "address")
        r.contract(loc, address, f"the ERC-20 token {symbol}")
        decimals = int(r.read(loc, address, "TestToken", "decimals", f"the ERC-20 token {symbol}"))
        found = r.symbol(loc, address)
        wanted = spec.decimals if "decimals" in spec.model_fields_set else decimals  # given: checked; else read
        if decimals != wanted or found != symbol:
            raise r.fail(loc, address, f"expected the ERC-20 token {symbol} with {wanted} decimals, "
                                       f"found symbol {found!r} with {decimals} decimals")
        out[symbol] = Token(symbol, address, decimals, spec.rebasing, spec.transfer_fee)
    return out


def _exchanges(r: _Reader, scenario: Scenario) -> tuple[UniswapV2Deployment | None, UniswapV3Deployment | None]:
    adopt = scenario.universe.adopt
    assert adopt is not None
    v2 = v3 = None
    if adopt.uniswap_v2 is not None:
        factory, router = _hex(adopt.uniswap_v2.factory), _hex(adopt.uniswap_v2.router)
        weth = _router_of(r, "uniswap_v2", factory, router, ROUTER02, "WETH", "the UniswapV2Factory",
                          "a UniswapV2Router02", "Router02")
        v2 = UniswapV2Deployment(factory, router, weth, pair_init_code_hash())
    if adopt.uniswap_v3 is not None:
        factory, router = _hex(adopt.uniswap_v3.factory), _hex(adopt.uniswap_v3.router)
        quoter = _hex(adopt.uniswap_v3.quoter)
        weth = _router_of(r, "uniswap_v3", factory, router, SWAP_ROUTER, "WETH9", "the UniswapV3Factory",
                          "a v3 SwapRouter", "SwapRouter")
        r.contract(("adopt", "uniswap_v3", "quoter"), quoter, "the v3 view quoter")
        v3 = UniswapV3Deployment(factory, router, b"", b"", quoter, weth, ())
    return v2, v3


def _router_of(r: _Reader, dex: str, factory: bytes, router: bytes, abi: str, weth_fn: str, factory_is: str,
               router_is: str, short: str) -> bytes:
    """Check that `factory` and `router` have code and that the router is the factory's;
    returns the router's WETH."""
    key = ("adopt", dex, "router")
    r.contract(("adopt", dex, "factory"), factory, factory_is)
    r.contract(key, router, router_is)
    of = r.address(key, router, abi, "factory", router_is)
    if of != factory:
        raise r.fail(key, router, f"expected a {short} of factory {checksum(factory)}, found one of {checksum(of)}")
    return r.address(key, router, abi, weth_fn, router_is)


def _pool(r: _Reader, index: int, spec: PoolSpec, tokens: dict[str, Token], v2: UniswapV2Deployment | None,
          v3: UniswapV3Deployment | None) -> Pool:
    assert spec.address is not None
    address = _hex(spec.address)
    loc: tuple[str | int, ...] = ("pools", index, "address")
    base, quote = tokens[spec.base], tokens[spec.quote]
    t0, t1 = sorted((base.address, quote.address))
    if spec.dex == Dex.uniswap_v2:
        assert v2 is not None
        what = f"a Uniswap v2 pair of {spec.pair}"
        r.contract(loc, address, what)
        found = (r.address(loc, address, V2_PAIR, "token0", what), r.address(loc, address, V2_PAIR, "token1", what))
        listed = r.address(loc, v2.factory, V2_FACTORY, "getPair", what, base.address, quote.address)
        if found != (t0, t1) or listed != address:
            raise r.fail(loc, address, f"expected {what}, found token0={checksum(found[0])} "
                                       f"token1={checksum(found[1])}, and the factory's pair of {spec.pair} is "
                                       f"{checksum(listed)}")
        return Pool(spec.pair, base, quote, address, spec.fee, spec.dex)
    assert v3 is not None and spec.dex == Dex.uniswap_v3
    pips = int((spec.fee * 1_000_000).to_integral_value())
    what = f"a Uniswap v3 pool of {spec.pair} at {_percent(spec.fee)}"
    r.contract(loc, address, what)
    found = (r.address(loc, address, V3_POOL, "token0", what), r.address(loc, address, V3_POOL, "token1", what))
    fee = int(r.read(loc, address, V3_POOL, "fee", what))
    listed = r.address(loc, v3.factory, V3_FACTORY, "getPool", what, base.address, quote.address, pips)
    if found != (t0, t1) or fee != pips or listed != address:
        raise r.fail(loc, address, f"expected {what}, found token0={checksum(found[0])} token1={checksum(found[1])} "
                                   f"fee={fee}, and the factory's pool of {spec.pair} at {pips} is {checksum(listed)}")
    return Pool(spec.pair, base, quote, address, spec.fee, spec.dex)


def _fund(chain: ChainClient, accounts: Accounts) -> None:
    """The harness's own accounts pay gas on the fork: any without ETH gets some, as a
    dev chain allows (their nonces are read from the chain either way)."""
    for wallet in accounts.all():
        chain.sync_nonce(wallet)
        if Ability.impersonation in chain.backend.abilities and chain.backend.get_eth_balance(wallet.address) == 0:
            chain.backend.set_eth_balance(wallet.address, ETH_FUNDING)


def _protocol(scenario: Scenario, universe: Universe, v2: UniswapV2Deployment | None, v3: UniswapV3Deployment | None,
              fault_switch: bytes, accounts: Accounts) -> ProtocolWorld:
    """What the world's actions need of the protocols (a v3 price shock swaps through the
    SwapRouter), shaped as a deployed protocol world."""
    u = scenario.universe
    decls = tuple(TokenDecl(s, universe.tokens[s].decimals, t.rebasing, t.transfer_fee) for s, t in u.tokens.items())
    pools = tuple(ProtocolPoolDecl(p.base, p.quote, Decimal(1), Decimal(1), VENUE[p.dex],  # type: ignore[arg-type]
                                   universe.pools[p.pair].fee_pips) for p in u.pools)
    spec = ProtocolWorldSpec(u.reserve, decls, pools, vaults=(VaultKind.erc4626,))
    weth = v2.weth if v2 is not None else v3.weth if v3 is not None else b""
    return ProtocolWorld(spec, dict(universe.tokens), universe.multicall, fault_switch, weth, v2, v3, None, {}, {},
                         accounts.market, accounts.all())


AdoptBuilder = Callable[[ChainClient], ProtocolScenarioWorld]


__all__ = ["AdoptBuilder", "AdoptionMismatch", "adopt_world"]
