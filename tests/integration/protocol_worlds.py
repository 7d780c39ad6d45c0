"""The protocol world the contract-level tests share, and small typed helpers around it.

One world has everything: Uniswap v2 pairs (one of a fee-on-transfer token), v3 pools at
all four fee tiers with overlapping concentrated positions (so swaps cross initialised
ticks), a two-hop v3 route, the fixture AMM, and both strategy vaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import pytest

from harness.protocols.chains import ProtocolChains
from harness.protocols.deploy import NO_DEADLINE, Deployer, as_address
from harness.protocols.revert import revert_message
from harness.protocols.uniswap_v3 import FULL_RANGE, V3Range, encode_path
from harness.protocols.vaults import VaultDeployment
from harness.protocols.world import ProtocolPoolDecl, ProtocolWorld, ProtocolWorldSpec
from harness.world import TokenDecl
from runner.chain.abi import artifact
from runner.chain.backend import Receipt
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet
from runner.universe import Token

BACKENDS = ["eth-tester", pytest.param("anvil", marks=pytest.mark.anvil)]
TX_GAS = 1_500_000

SPEC = ProtocolWorldSpec(
    reserve="USDC",
    tokens=(TokenDecl("USDC", 6), TokenDecl("WETH", 18), TokenDecl("WBTC", 8),
            TokenDecl("FOT", 18, transfer_fee=D("0.01"))),
    pools=(
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(2_000_000), "v2"),
        ProtocolPoolDecl("FOT", "USDC", D(1), D(1_000_000), "v2"),
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(1_000_000), "v3", 100,
                         (FULL_RANGE, V3Range(D("0.999"), D("1.001"), D(2)), V3Range(D("0.995"), D("1.004")))),
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(1_000_000), "v3", 500,
                         (FULL_RANGE, V3Range(D("0.9"), D("1.1")), V3Range(D("0.99"), D("1.01"), D(3)))),
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(2_000_000), "v3", 3000,
                         (FULL_RANGE, V3Range(D("0.5"), D(2), D("0.5")), V3Range(D("0.95"), D("1.05"), D(2)))),
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(500_000), "v3", 10000,
                         (FULL_RANGE, V3Range(D("0.8"), D("1.25")))),
        ProtocolPoolDecl("WBTC", "USDC", D(40000), D(2_000_000), "v3", 3000),
        ProtocolPoolDecl("WBTC", "WETH", D(20), D(1000), "v3", 500),
        ProtocolPoolDecl("WETH", "USDC", D(2000), D(2_000_000), "fixture", 3000),
    ),
    valuation=(("WETH", "WETH/USDC@v2"), ("WBTC", "WBTC/USDC@v3-3000"), ("FOT", "FOT/USDC@v2")),
)


@dataclass
class Bench:
    """A protocol world on one backend, right after deployment."""

    backend: str
    chain: ChainClient
    world: ProtocolWorld
    d: Deployer
    am: Wallet
    alice: Wallet
    bob: Wallet
    market: Wallet

    # -- reads ------------------------------------------------------------------
    def token(self, symbol: str) -> Token:
        return self.world.tokens[symbol]

    def read(self, to: bytes, contract: str, fn: str, *args: Any) -> Any:
        return self.chain.read(to, artifact(contract).fn(fn), *args)

    def balance(self, symbol: str, holder: bytes) -> int:
        return int(self.read(self.token(symbol).address, "TestToken", "balanceOf", holder))

    def vault(self, kind: str) -> VaultDeployment:
        return self.world.vaults[kind]

    def pool_address(self, key: str) -> bytes:
        return self.world.pools[key].address

    # -- writes -----------------------------------------------------------------
    def tx(self, wallet: Wallet, to: bytes, contract: str, fn: str, *args: Any, gas: int = TX_GAS) -> Receipt:
        """One transaction in its own block; the receipt whatever its status."""
        return self.chain.transact(wallet, to, artifact(contract).fn(fn).encode(*args), gas)

    def ok(self, wallet: Wallet, to: bytes, contract: str, fn: str, *args: Any, gas: int = TX_GAS) -> Receipt:
        receipt = self.tx(wallet, to, contract, fn, *args, gas=gas)
        assert receipt.success, f"{contract}.{fn} failed: {receipt.revert_reason}"
        return receipt

    def mint(self, symbol: str, to: bytes, units: int) -> None:
        self.ok(self.d.admin, self.token(symbol).address, "TestToken", "mint", to, units)

    def fund_vault(self, kind: str, symbol: str, units: int) -> None:
        """Holdings arrive at the vault (minted in: no price moves)."""
        self.mint(symbol, self.vault(kind).address, units)

    def swap_v2(self, kind: str, router: bytes, amount_in: int, min_out: int, path: list[str],
                gas: int = TX_GAS) -> Receipt:
        v = self.vault(kind)
        return self.tx(self.am, v.address, v.contract, "swapV2", router, amount_in, min_out,
                       [self.token(s).address for s in path], NO_DEADLINE, gas=gas)

    def v3_path(self, path: list[str], fees: list[int]) -> bytes:
        return encode_path([self.token(s).address for s in path], fees)

    def swap_v3(self, kind: str, path: list[str], fees: list[int], amount_in: int, min_out: int,
                gas: int = TX_GAS) -> Receipt:
        v = self.vault(kind)
        assert self.world.v3 is not None
        return self.tx(self.am, v.address, v.contract, "swapV3", self.world.v3.swap_router,
                       self.v3_path(path, fees), amount_in, min_out, NO_DEADLINE, gas=gas)

    def quote_v3(self, path: list[str], fees: list[int], amount_in: int) -> int:
        assert self.world.v3 is not None
        out = self.read(self.world.v3.quoter_v2, "uniswap/QuoterV2", "quoteExactInput",
                        self.v3_path(path, fees), amount_in)
        return int(out[0])

    @staticmethod
    def reason(receipt: Receipt) -> str | None:
        """The receipt's revert reason, with the published routers' padded strings decoded."""
        return revert_message(receipt.revert_reason)

    def events(self, receipt: Receipt, address: bytes, contract: str, name: str) -> list[dict[str, Any]]:
        ev = artifact(contract).event(name)
        return [ev.decode(lg.topics, lg.data) for lg in receipt.logs
                if lg.address == address and lg.topics and lg.topics[0] == ev.topic]

    def swapped(self, receipt: Receipt, kind: str) -> tuple[bytes, bytes, int, int]:
        v = self.vault(kind)
        (ev,) = self.events(receipt, v.address, v.contract, "Swapped")
        return as_address(ev["tokenIn"]), as_address(ev["tokenOut"]), int(ev["amountIn"]), int(ev["amountOut"])


def make_bench(chains: ProtocolChains, backend: str) -> Bench:
    am = Wallet.from_label("asset-manager")
    alice, bob = Wallet.from_label("investor/alice"), Wallet.from_label("investor/bob")
    market = Wallet.from_label("market")
    chain, world = chains.world(backend, SPEC, am, fund=(alice, bob, market))
    return Bench(backend, chain, world, Deployer(chain, chains.admin), am, alice, bob, market)


def custom_error(signature: str, *values: Any) -> str:
    """A Solidity custom error's revert data as the receipts report it (0x-hex)."""
    from eth_abi import encode
    from eth_hash.auto import keccak

    types = signature[signature.index("(") + 1:-1]
    args = encode([t for t in types.split(",") if t], list(values)) if types else b""
    return "0x" + (keccak(signature.encode())[:4] + args).hex()


def chain_truth_nav(b: Bench, holder: bytes) -> int:
    """The NAV of `holder`'s holdings from the DEXes' own liquidation quotes: USDC, plus
    WETH and FOT sold on Router02 (FOT quoted on what reaches the pair: the token burns its
    transfer fee on the way in, which getAmountsOut does not know), plus WBTC sold on v3
    (quoted by QuoterV2)."""
    assert b.world.v2 is not None
    nav = b.balance("USDC", holder)
    for symbol in ("WETH", "FOT"):
        units = b.balance(symbol, holder)
        units -= units * int(b.read(b.token(symbol).address, "TestToken", "transferFeeBps")) // 10_000
        if units:
            path = [b.token(symbol).address, b.token("USDC").address]
            nav += int(b.read(b.world.v2.router, "uniswap/UniswapV2Router02", "getAmountsOut", units, path)[-1])
    units = b.balance("WBTC", holder)
    if units:
        nav += b.quote_v3(["WBTC", "USDC"], [3000], units)
    return nav
