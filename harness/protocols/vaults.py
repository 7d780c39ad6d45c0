"""The two real strategy vaults (fixtures/contracts): deployment and registration.

- `StrategyVault4626` (OpenZeppelin ERC-4626): deposits and redemptions priced at a NAV
  computed on chain in the same block from the vault's holdings, each tracked asset
  valued at its liquidation quote along its registered route; a FIFO redemption queue
  for redemptions the cash cannot pay.
- `AsyncStrategyVault` (ERC-7540): requests, settlement in epochs at a NAV the asset
  manager supplies, ERC-7540 claims.

Both trade through `swapV2` (Router02 or the fixture Router) and `swapV3` (SwapRouter),
only through routers the owner whitelisted, and only into the asset or a tracked asset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from harness.protocols.deploy import Deployer
from harness.protocols.errors import UnexpectedChainState
from harness.protocols.uniswap_v3 import encode_path
from runner.universe import Token, VaultKind

#: The artifact of each real vault kind (the vocabulary is the runner's: runner.universe.VaultKind).
CONTRACTS: dict[VaultKind, str] = {VaultKind.erc4626: "StrategyVault4626", VaultKind.async_: "AsyncStrategyVault"}

VAULT_DEPLOY_GAS = 5_000_000
SET_ROUTER_GAS = 60_000
ADD_TRACKED_GAS = 250_000


class RouterKind(IntEnum):
    """ManagedVaultBase.RouterKind: which entry point may use a router."""

    NONE = 0
    UNISWAP_V2 = 1  # swapV2 -> Router02.swapExactTokensForTokensSupportingFeeOnTransferTokens
    UNISWAP_V3 = 2  # swapV3 -> SwapRouter.exactInput
    FIXTURE = 3  # swapV2 -> the fixture Router's swapExactTokensForTokens


class RouteKind(IntEnum):
    """ManagedVaultBase.RouteKind: how a tracked asset is valued."""

    NONE = 0
    V2 = 1  # quoter.getAmountsOut(amount, path)
    V3 = 2  # V3ViewQuoter.quoteExactInput(path, amount)


@dataclass(frozen=True)
class TrackedAsset:
    """A holding the vault values on chain, and the route that values it."""

    token: Token
    kind: RouteKind
    quoter: bytes  # Router02 / fixture Router (V2) or V3ViewQuoter (V3)
    v2_path: tuple[bytes, ...] = ()
    v3_path: bytes = b""


def v2_route(token: Token, router: bytes, path: Sequence[Token]) -> TrackedAsset:
    """Value `token` at Router02's (or the fixture Router's) getAmountsOut along `path`."""
    return TrackedAsset(token, RouteKind.V2, router, tuple(t.address for t in path))


def v3_route(token: Token, view_quoter: bytes, path: Sequence[Token], fees: Sequence[int]) -> TrackedAsset:
    """Value `token` by an exact-input v3 swap along `path` with the given fee tiers."""
    return TrackedAsset(token, RouteKind.V3, view_quoter, (), encode_path([t.address for t in path], fees))


@dataclass(frozen=True)
class VaultDeployment:
    kind: VaultKind
    contract: str  # the artifact name
    address: bytes
    asset: Token
    owner: bytes
    asset_manager: bytes
    fault_switch: bytes  # address(0): faults disabled
    routers: tuple[tuple[bytes, RouterKind], ...]
    tracked: tuple[TrackedAsset, ...]

    def router_kind(self, router: bytes) -> RouterKind:
        for address, kind in self.routers:
            if address == router:
                return kind
        return RouterKind.NONE


def deploy_vault(d: Deployer, kind: VaultKind, *, asset: Token, asset_manager: bytes, name: str, symbol: str,
                 routers: Sequence[tuple[bytes, RouterKind]] = (), tracked: Sequence[TrackedAsset] = (),
                 fault_switch: bytes | None = None) -> VaultDeployment:
    """Deploy a strategy vault owned by the admin, whitelist `routers` and register
    `tracked` assets (in that order, in one block)."""
    contract = CONTRACTS.get(kind)
    if contract is None:
        raise ValueError(f"unknown vault kind {kind!r}; expected one of {sorted(str(k) for k in CONTRACTS)}")
    switch = fault_switch or b"\x00" * 20
    address = d.deploy(contract, asset.address, name, symbol, d.admin.address, asset_manager, switch,
                       gas=VAULT_DEPLOY_GAS)
    with d.block():
        for router, router_kind in routers:
            d.send(d.admin, address, contract, "setRouter", router, int(router_kind), gas=SET_ROUTER_GAS,
                   action=f"whitelist router 0x{router.hex()} on {contract}")
        for t in tracked:
            d.send(d.admin, address, contract, "addTrackedAsset", t.token.address, int(t.kind), t.quoter,
                   list(t.v2_path), t.v3_path, gas=ADD_TRACKED_GAS, action=f"track {t.token.symbol} on {contract}")
    on_chain = [bytes.fromhex(a.removeprefix("0x")) if isinstance(a, str) else a
                for a in d.read(address, contract, "trackedAssets")]
    if on_chain != [t.token.address for t in tracked]:
        raise UnexpectedChainState(f"{contract} at 0x{address.hex()} tracks {[a.hex() for a in on_chain]}, "
                                   f"expected {[t.token.symbol for t in tracked]}")
    return VaultDeployment(kind, contract, address, asset, d.admin.address, asset_manager, switch,
                           tuple(routers), tuple(tracked))
