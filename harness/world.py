"""The world a scenario runs in: fixture contracts deployed and funded on a chain.

`deploy_world` turns a scenario's universe section into contracts (tokens, a rebasing
token, an AMM with pools at the declared prices and depths, the strategy vault, the
fault switch, a multicall) and returns the runner's `Universe` for it. `World` holds
the primitive actions the timeline's events are made of; each is a real transaction
by a real account, never a state override.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from harness.accounts import Accounts
from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet
from runner.universe import Dex, Pool, Token, Universe

MAX_UINT = 2**256 - 1
DEPLOY_GAS = 6_000_000
TX_GAS = 300_000
ETH_FUNDING = 10**22
FAULT_MODES = {"revert": 1, "out_of_gas": 2, "slippage": 3, "transfer_failure": 4}


@dataclass(frozen=True)
class Redemption:
    """What a withdraw event did: the shares redeemed, and whether the vault queued them
    (more than its cash) instead of paying at once."""

    shares_units: int
    queued: bool = False


@dataclass(frozen=True)
class Claim:
    """What the harness claimed for an investor from a settled request (the async vault):
    the shares of a deposit, or the assets of a redemption (`redemption` True)."""

    investor: str
    redemption: bool
    line: str  # for the journal


class WorldActionFailed(RuntimeError):
    """A harness transaction reverted (e.g. a redemption the vault cannot pay)."""

    def __init__(self, action: str, reason: str | None) -> None:
        self.action = action
        self.reason = reason or "reverted"
        super().__init__(f"{action} failed: {self.reason}")


def _create_address(sender: bytes, nonce: int) -> bytes:
    import rlp
    from eth_hash.auto import keccak

    return keccak(rlp.encode([sender, nonce]))[-20:]


@dataclass
class World:
    chain: ChainClient
    accounts: Accounts
    universe: Universe
    fault_switch: bytes
    armed_faults: dict[str, bytes] = field(default_factory=dict)
    _batch: list[tuple[bytes, str]] | None = field(default=None, repr=False)
    #: The asset manager the runner sends as without its key (an adopted vault's, by
    #: impersonation); None: the runner signs with the harness's asset-manager key.
    impersonate: bytes | None = None

    # -- plumbing --------------------------------------------------------------
    def _tx(self, wallet: Wallet, to: bytes, contract: str, fn: str, *args: Any, gas: int = TX_GAS,
            action: str = "") -> None:
        """One harness transaction; inside `block()` it joins that block's batch."""
        what = action or f"{contract}.{fn}"
        if not self.chain.automine:
            raise WorldActionFailed(what, "blocks are stalled (mempool stall)")
        data = artifact(contract).fn(fn).encode(*args)
        if self._batch is not None:
            self._batch.append((self.chain.send(wallet, to, data, gas), what))
            return
        receipt = self.chain.transact(wallet, to, data, gas)
        if not receipt.success:
            raise WorldActionFailed(what, receipt.revert_reason)

    @contextmanager
    def block(self) -> Iterator[None]:
        """The transactions of one action in one block: sent in order, mined once, then
        every receipt checked. An event costs one block however many steps it has."""
        if self._batch is not None:
            yield
            return
        self._batch = []
        try:
            yield
            sent, self._batch = self._batch, None
            receipts = self.chain.wait_many([tx_hash for tx_hash, _ in sent])
            for (_, what), receipt in zip(sent, receipts, strict=True):
                if receipt is not None and not receipt.success:
                    raise WorldActionFailed(what, receipt.revert_reason)
        finally:
            self._batch = None

    def token_contract(self, token: Token) -> str:
        return "RebasingToken" if token.rebasing else "TestToken"

    def balance_of(self, token: Token, holder: bytes) -> int:
        return int(self.chain.read(token.address, artifact("TestToken").fn("balanceOf"), holder))

    def mint(self, token: Token, to: bytes, units: int) -> None:
        self._tx(self.accounts.admin, token.address, self.token_contract(token), "mint", to, units,
                 action=f"mint {token.symbol}")

    # -- investors -------------------------------------------------------------
    def deposit(self, investor: str, amount: Decimal) -> int:
        """The investor gets reserve tokens and deposits them into the vault."""
        wallet = self.accounts.investor(investor)
        reserve = self.universe.reserve
        units = reserve.to_units(amount)
        with self.block():
            self.mint(reserve, wallet.address, units)
            self._tx(wallet, reserve.address, self.token_contract(reserve), "approve", self.universe.vault, units)
            self._deposit_call(wallet, investor, units)
        return units

    def _deposit_call(self, wallet: Wallet, investor: str, units: int) -> None:
        """The vault call of a deposit, after the investor approved `units` (a real vault
        kind may call something else: the async vault requests)."""
        self._tx(wallet, self.universe.vault, "Vault", "deposit", units, wallet.address, action=f"deposit by {investor}")

    def investor_shares(self, investor: str) -> int:
        wallet = self.accounts.investor(investor)
        return int(self.chain.read(self.universe.vault, artifact("Vault").fn("balanceOf"), wallet.address))

    def withdraw(self, investor: str, fraction: Decimal | None, shares: Decimal | None) -> Redemption:
        wallet = self.accounts.investor(investor)
        if fraction is not None:
            units = int((Decimal(self.investor_shares(investor)) * fraction).to_integral_value(ROUND_DOWN))
        else:
            assert shares is not None
            units = self.universe.reserve.to_units(shares)
        self._tx(wallet, self.universe.vault, "Vault", "redeem", units, wallet.address, wallet.address,
                 action=f"withdraw by {investor}")
        return Redemption(units)

    def claim_settled(self) -> list[Claim]:
        """Claim what investors' settled requests left them (the async vault's ERC-7540
        claims); a vault that pays at once has nothing to claim."""
        return []

    # -- tokens ----------------------------------------------------------------
    def _pairs_with(self, token: Token) -> list[Pool]:
        return [p for p in self.universe.pools.values() if token in (p.base, p.quote)]

    def rebase(self, token: Token, change: Decimal) -> None:
        delta = int((change * 10**18).to_integral_value(ROUND_DOWN))
        with self.block():
            self._tx(self.accounts.admin, token.address, "RebasingToken", "rebase", delta,
                     action=f"rebase {token.symbol}")
            self._sync_pools(token)

    def accrue_interest(self, token: Token, rate: Decimal) -> None:
        wad = int((rate * 10**18).to_integral_value(ROUND_DOWN))
        with self.block():
            self._tx(self.accounts.admin, token.address, "RebasingToken", "accrueInterest", wad,
                     action=f"interest on {token.symbol}")
            self._sync_pools(token)

    def _sync_pools(self, token: Token) -> None:
        # Pools holding the token re-read their balances, as a keeper would right after.
        for pool in self._pairs_with(token):
            self._tx(self.accounts.admin, pool.address, "Pair", "sync")

    def external_transfer(self, token: Token, amount: Decimal) -> None:
        """Tokens arrive at (amount > 0) or leave (amount < 0) the vault without the runner.

        One mechanism on every backend, so the same scenario sends the same transactions
        (same nonces, same hashes) everywhere: the token's owner mints into, or burns out
        of, the vault (a Transfer from or to the zero address, as the chain sees it).
        """
        units = token.to_units(abs(amount))
        if amount > 0:
            self.mint(token, self.universe.vault, units)
            return
        self._tx(self.accounts.admin, token.address, self.token_contract(token), "burn", self.universe.vault,
                 units, action=f"drain {token.symbol}")

    # -- markets ---------------------------------------------------------------
    def reserves(self, pool: Pool) -> tuple[int, int]:
        r0, r1, _ = self.chain.read(pool.address, artifact("Pair").fn("getReserves"))
        return (r0, r1) if pool.base_is_token0 else (r1, r0)

    def price_shock(self, pool: Pool, move: Decimal | None, price: Decimal | None) -> Decimal:
        """A third party swaps directly on the pair until its price is near the target.

        Its input is minted straight into the pair and the swap follows in the same block,
        as a flash-funded arbitrage would: one block per shock, output computed with the
        pair's own formula from the reserves read before.
        """
        base_units, quote_units = self.reserves(pool)
        current = pool.quote.from_units(quote_units) / pool.base.from_units(base_units)
        target = price if price is not None else current * (1 + (move or Decimal(0)))
        k = Decimal(base_units) * Decimal(quote_units)
        # target price in base units: quote_units / base_units
        ratio = target * Decimal(10) ** (pool.quote.decimals - pool.base.decimals)
        new_base = (k / ratio).sqrt()
        fee_keep = 1 - pool.fee
        market = self.accounts.market.address
        if new_base > base_units:  # sell base into the pool
            token_in = pool.base
            amount_in = int(((new_base - base_units) / fee_keep).to_integral_value(ROUND_DOWN))
        else:  # buy base: pay quote
            token_in = pool.quote
            new_quote = (k * ratio).sqrt()
            amount_in = int(((new_quote - quote_units) / fee_keep).to_integral_value(ROUND_DOWN))
        if amount_in <= 0:
            return current
        in_is_base = token_in is pool.base
        reserve_in = base_units if in_is_base else quote_units
        reserve_out = quote_units if in_is_base else base_units
        # Minting pays no transfer fee; share-based tokens may credit a unit or two less.
        received = amount_in - (2 if token_in.rebasing else 0)
        with_fee = received * (10000 - pool.fee_bps)
        out = with_fee * reserve_out // (reserve_in * 10000 + with_fee)
        out_is_token0 = (not in_is_base) == pool.base_is_token0
        amount0_out, amount1_out = (out, 0) if out_is_token0 else (0, out)
        with self.block():
            self.mint(token_in, pool.address, amount_in)
            self._pair_swap(pool, amount0_out, amount1_out, market)
        if token_in.rebasing:
            b, q = self.reserves(pool)  # share rounding: read what the pair really holds
        else:
            new_in, new_out = reserve_in + amount_in, reserve_out - out
            b, q = (new_in, new_out) if in_is_base else (new_out, new_in)
        return pool.quote.from_units(q) / pool.base.from_units(b)

    def _pair_swap(self, pool: Pool, amount0_out: int, amount1_out: int, to: bytes) -> None:
        """The market's direct swap on a constant-product pair (the fixture Pair's ABI)."""
        self._tx(self.accounts.market, pool.address, "Pair", "swap", amount0_out, amount1_out, to,
                 action="price shock swap")

    # -- faults ----------------------------------------------------------------
    def arm_fault(self, pair: str | None, mode: str, reason: str) -> None:
        target = self.universe.pools[pair].address if pair else b"\x00" * 20
        self._tx(self.accounts.admin, self.fault_switch, "FaultSwitch", "arm", target, FAULT_MODES[mode], reason)
        self.armed_faults[pair or "*"] = target

    def disarm_faults(self) -> None:
        with self.block():
            for target in self.armed_faults.values():
                self._tx(self.accounts.admin, self.fault_switch, "FaultSwitch", "disarm", target)
        self.armed_faults.clear()


@dataclass(frozen=True)
class TokenDecl:
    symbol: str
    decimals: int
    rebasing: bool = False
    transfer_fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class PoolDecl:
    base: str
    quote: str
    price: Decimal
    depth: Decimal
    fee: Decimal
    dex: Dex = Dex.fixture


def deploy_world(chain: ChainClient, accounts: Accounts, reserve: str, tokens: list[TokenDecl],
                 pools: list[PoolDecl]) -> World:
    """Deploy every fixture with the admin key; one transaction per block, in a fixed order."""
    admin = accounts.admin
    for wallet in accounts.all():
        if wallet is not admin:  # only the admin is funded at genesis, on every backend
            chain.transact(admin, wallet.address, b"", 21_000, value=ETH_FUNDING)

    def deploy(name: str, *args: Any) -> bytes:
        address = _create_address(admin.address, admin.nonce)
        receipt = chain.transact(admin, None, artifact(name).deploy_data(*args), DEPLOY_GAS)
        if not receipt.success:
            raise WorldActionFailed(f"deploy {name}", receipt.revert_reason)
        return address

    multicall = deploy("Multicall")
    fault_switch = deploy("FaultSwitch")
    factory = deploy("Factory")
    router = deploy("Router", factory, fault_switch)
    token_objs: dict[str, Token] = {}
    for decl in tokens:
        contract = "RebasingToken" if decl.rebasing else "TestToken"
        address = deploy(contract, decl.symbol, decl.symbol, decl.decimals)
        token_objs[decl.symbol] = Token(decl.symbol, address, decl.decimals, decl.rebasing, decl.transfer_fee)
        if decl.transfer_fee:
            bps = int((decl.transfer_fee * 10000).to_integral_value())
            receipt = chain.transact(admin, address, artifact("TestToken").fn("setTransferFee").encode(bps), TX_GAS)
            if not receipt.success:
                raise WorldActionFailed(f"setTransferFee {decl.symbol}", receipt.revert_reason)
    vault = deploy("Vault", token_objs[reserve].address, "Strategy Vault", "SV",
                   accounts.asset_manager.address, router)
    pool_objs: dict[str, Pool] = {}
    universe_stub = Universe(token_objs[reserve], token_objs, pool_objs, router, vault, multicall, factory,
                             chain.chain_id)
    world = World(chain, accounts, universe_stub, fault_switch)
    factory_abi = artifact("Factory")
    for pdecl in pools:
        base, quote = token_objs[pdecl.base], token_objs[pdecl.quote]
        fee_bps = int((pdecl.fee * 10000).to_integral_value())
        world._tx(admin, factory, "Factory", "createPair", base.address, quote.address, fee_bps,
                  gas=DEPLOY_GAS, action=f"create pool {pdecl.base}/{pdecl.quote}")
        pair_address = chain.read(factory, factory_abi.fn("getPair"), base.address, quote.address)
        pair_bytes = bytes.fromhex(pair_address[2:]) if isinstance(pair_address, str) else pair_address
        with world.block():
            world.mint(quote, pair_bytes, quote.to_units(pdecl.depth))
            world.mint(base, pair_bytes, base.to_units(pdecl.depth / pdecl.price))
            world._tx(admin, pair_bytes, "Pair", "sync")
        pool_objs[f"{pdecl.base}/{pdecl.quote}"] = Pool(f"{pdecl.base}/{pdecl.quote}", base, quote, pair_bytes, pdecl.fee)
    return world
