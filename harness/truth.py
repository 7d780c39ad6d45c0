"""What the chain says, read and valued by the harness alone.

The invariants and the auditor's chain view judge the runner against these numbers,
so nothing here may use the runner's own pricing, valuation, routing or books: the
reads are the harness's (balances, share supply, pool reserves, fee settings, all at a
given block), the route is chosen here (fewest hops to the reserve, pools in declaration
order), and a sale is priced with the pools' own constant-product formula, hop by hop,
with each token's transfer fee as the token charges it (`amount * bps / 10000`,
rounded down, taken from what is sent). A Uniswap v2 pair is such a pool with v2's one
fee; a Uniswap v3 hop is priced by the chain itself: an eth_call of V3ViewQuoter (the
contract the real vaults value v3 holdings by, which replays the pool's own swap loop)
at the block, never by the runner's v3math.

On the async vault (ERC-7540) the reserve the strategy holds is the vault's `freeCash()`
view, not its balance: pending deposits and assets reserved for settled redemptions sit
in the vault but belong to the requesters (the contract's view, never the runner's books).

`ChainTruth` reads through the backend *below* the fault injector, so checking an
invariant never consumes a fault a scenario armed for the runner.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from runner.chain.abi import artifact
from runner.chain.backend import Backend, Call, Receipt
from runner.money import estimates, total
from runner.universe import V2_FEE, Dex, Pool, Token, Universe, VaultKind

BPS = 10_000


@dataclass(frozen=True)
class Holdings:
    """The vault's balances (base units) and share supply at one block."""

    block: int
    units: dict[str, int]
    share_supply: int


@dataclass(frozen=True)
class View:
    """Everything the harness reads at one block, in one batched request."""

    holdings: Holdings
    reserves: dict[bytes, tuple[int, int]]  # pool address -> (reserve0, reserve1)
    transfer_fees: dict[str, int]  # token symbol -> basis points
    sqrt_prices: dict[bytes, int] = field(default_factory=dict)  # v3 pool address -> slot0's sqrtPriceX96


@dataclass(frozen=True)
class Valuation:
    """Chain-truth NAV: the reserve held plus what selling every other holding would fetch."""

    block: int
    nav: Decimal
    by_asset: dict[str, Decimal]  # reserve value of each holding, the reserve at face value
    share_supply: Decimal

    @property
    def per_share(self) -> Decimal | None:
        return self.nav / self.share_supply if self.share_supply else None


@dataclass(frozen=True)
class _ViewPlan:
    """The reads of a `View`, encoded once: for whom each answer is, in call order."""

    symbols: tuple[str, ...]  # a balance each (the async vault's freeCash for its reserve)
    pools: tuple[Pool, ...]  # getReserves each (v2-style pairs)
    v3_pools: tuple[Pool, ...]  # slot0 each
    plain: tuple[Token, ...]  # transferFeeBps each (non-rebasing tokens)
    calls: tuple[Call, ...]  # the above, then the share supply after the balances


def _other_side(pool: Pool, token: Token) -> Token:
    return pool.quote if pool.base.address == token.address else pool.base


def _oriented(reserves: tuple[int, int], token_in: Token, token_out: Token) -> tuple[int, int]:
    """(reserve in, reserve out): a pair orders its tokens by address, as a number. The
    addresses are raw bytes, compared as they are (bytes.lower() would rewrite the bytes
    0x41-0x5a and misorder some pairs)."""
    r0, r1 = reserves
    return (r0, r1) if token_in.address < token_out.address else (r1, r0)


class ChainTruth:
    """Chain reads and independent pricing for one world."""

    def __init__(self, backend: Backend, universe: Universe) -> None:
        self.backend = backend
        self.universe = universe
        self._erc20 = artifact("TestToken")
        self._vault = artifact("Vault")
        self._pair = artifact("Pair")
        self._v3_pool = artifact("uniswap/UniswapV3Pool")
        self._v3_quote = artifact("V3ViewQuoter").fn("quoteExactInputSingle")
        self._free_cash = artifact("AsyncStrategyVault").fn("freeCash")
        self._views: dict[int, View] = {}

    # -- plain reads -------------------------------------------------------------
    def _call_many(self, calls: list[tuple[bytes, bytes]], block: int) -> list[bytes]:
        return self.backend.call_many([Call(to, data) for to, data in calls], block)

    @cached_property
    def _view_plan(self) -> _ViewPlan:
        """What `view` reads, in its order: the same calls at every block (the universe
        is fixed for the run), so they are encoded once; only the block changes."""
        u = self.universe
        balance_of, supply = self._erc20.fn("balanceOf"), self._vault.fn("totalSupply")
        reserves_of, fee_of = self._pair.fn("getReserves"), self._erc20.fn("transferFeeBps")
        symbols = tuple(u.tokens)
        pools = tuple(p for p in u.pools.values() if p.dex != Dex.uniswap_v3)
        v3_pools = tuple(p for p in u.pools.values() if p.dex == Dex.uniswap_v3)
        slot0 = self._v3_pool.fn("slot0")
        plain = tuple(t for t in u.tokens.values() if not t.rebasing)
        calls = [(u.tokens[s].address, balance_of.encode(u.vault)) for s in symbols]
        if u.vault_kind == VaultKind.async_:
            # The async vault's own view of the reserve that is the strategy's: its balance
            # less pending deposits and the assets reserved for settled redemptions.
            calls[symbols.index(u.reserve.symbol)] = (u.vault, self._free_cash.encode())
        calls.append((u.vault, supply.encode()))
        calls += [(p.address, reserves_of.encode()) for p in pools]
        calls += [(p.address, slot0.encode()) for p in v3_pools]
        calls += [(t.address, fee_of.encode()) for t in plain]
        return _ViewPlan(symbols, pools, v3_pools, plain, tuple(Call(to, data) for to, data in calls))

    def view(self, block: int | None = None) -> View:
        """Balances, share supply, every pool's reserves and every token's transfer fee at
        `block` (the head by default): one batched read, kept for the last few blocks."""
        block = self.backend.block_number() if block is None else block
        cached = self._views.get(block)
        if cached is not None:
            return cached
        plan = self._view_plan
        balance_of, supply = self._erc20.fn("balanceOf"), self._vault.fn("totalSupply")
        reserves_of, fee_of = self._pair.fn("getReserves"), self._erc20.fn("transferFeeBps")
        slot0 = self._v3_pool.fn("slot0")
        out = iter(self.backend.call_many(list(plan.calls), block))
        units = {s: int(balance_of.decode_one(next(out))) for s in plan.symbols}
        held = Holdings(block, units, int(supply.decode_one(next(out))))
        reserves = {p.address: tuple(reserves_of.decode(next(out))[:2]) for p in plan.pools}
        sqrt_prices = {p.address: int(slot0.decode(next(out))[0]) for p in plan.v3_pools}
        fees = {t.symbol: int(fee_of.decode_one(next(out))) for t in plan.plain}
        view = View(held, reserves, fees, sqrt_prices)  # type: ignore[arg-type]
        if len(self._views) >= 8:
            self._views.pop(next(iter(self._views)))
        self._views[block] = view
        return view

    def forget(self) -> None:
        """Drop the cached views."""
        self._views.clear()

    def holdings(self, block: int | None = None) -> Holdings:
        return self.view(block).holdings

    @cached_property
    def pool_fees(self) -> dict[bytes, int]:
        """Each pool's fee in basis points: as a fixture pair stores it (immutable), a v3
        pool's `fee()` (pips, every tier a whole number of basis points), Uniswap v2's one
        fee for a UniswapV2Pair (it stores none)."""
        pools = [p for p in self.universe.pools.values() if p.dex != Dex.uniswap_v2]
        pair_fee, v3_fee = self._pair.fn("feeBps"), self._v3_pool.fn("fee")
        calls = [(p.address, (v3_fee if p.dex == Dex.uniswap_v3 else pair_fee).encode()) for p in pools]
        out = self._call_many(calls, self.backend.block_number()) if pools else []
        fees = {p.address: int(pair_fee.decode_one(raw)) // (100 if p.dex == Dex.uniswap_v3 else 1)
                for p, raw in zip(pools, out, strict=True)}
        v2_bps = int(V2_FEE * BPS)
        fees.update({p.address: v2_bps for p in self.universe.pools.values() if p.dex == Dex.uniswap_v2})
        return fees

    # -- what a transaction moved -------------------------------------------------
    def rebasing_change(self, token: Token, receipt: Receipt) -> int | None:
        """How much the vault's balance of rebasing `token` changed in `receipt`'s
        transaction, in base units: its balance (shares x pooled / total shares, rounded
        down) just before and just after the transaction, which no read at a block gives
        when the block holds other transactions too.

        The token's shares and totals are read at the block before and carried through the
        block's logs of the token in order (TransferShares moves shares, a mint's or burn's
        Transfer the pooled amount, Rebase and InterestAccrued set it); the carried state
        must then be what the chain reads at the block (shares, totals and balance), else
        a change went unlogged and this is None, as it is for a transaction that moved
        none of the token."""
        u = self.universe
        rebasing = artifact("RebasingToken")
        shares_of, total_shares, total_pooled = (rebasing.fn(n) for n in ("sharesOf", "getTotalShares", "getTotalPooled"))
        balance_of = self._erc20.fn("balanceOf")
        transfer, moved_shares = rebasing.event("Transfer"), rebasing.event("TransferShares")
        set_pooled = {rebasing.event(n).topic: rebasing.event(n) for n in ("Rebase", "InterestAccrued")}
        calls = [(token.address, shares_of.encode(u.vault)), (token.address, total_shares.encode()),
                 (token.address, total_pooled.encode()), (token.address, balance_of.encode(u.vault))]
        block = receipt.block_number

        def read(at: int) -> tuple[int, int, int, int]:
            raw = self._call_many(calls, at)
            return (int(shares_of.decode_one(raw[0])), int(total_shares.decode_one(raw[1])),
                    int(total_pooled.decode_one(raw[2])), int(balance_of.decode_one(raw[3])))

        def balance(held: int, supply: int, pooled: int) -> int:
            return held * pooled // supply if supply else 0

        held, supply, pooled, _ = read(block - 1)
        vault, zero = "0x" + u.vault.hex(), "0x" + "00" * 20
        before = after = None
        for lg in sorted(self.backend.get_logs(token.address, [], block, block), key=lambda lg: lg.log_index):
            ours = lg.tx_hash == receipt.tx_hash
            if ours and before is None:
                before = balance(held, supply, pooled)
            topic = lg.topics[0] if lg.topics else b""
            if topic == moved_shares.topic:
                ev = moved_shares.decode(lg.topics, lg.data)
                src, dst, n = str(ev["from"]).lower(), str(ev["to"]).lower(), int(ev["sharesValue"])
                held += (n if dst == vault else 0) - (n if src == vault else 0)
                supply += (n if src == zero else 0) - (n if dst == zero else 0)
                pooled = pooled if supply else 0  # the last share's burn drops the dust
            elif topic == transfer.topic:
                ev = transfer.decode(lg.topics, lg.data)
                src, dst, n = str(ev["from"]).lower(), str(ev["to"]).lower(), int(ev["value"])
                pooled += (n if src == zero else 0) - (n if dst == zero else 0)
            elif topic in set_pooled:
                pooled = int(set_pooled[topic].decode(lg.topics, lg.data)["newTotalPooled"])
            if ours:
                after = balance(held, supply, pooled)
        if before is None or after is None:
            return None
        end = read(block)
        if end != (held, supply, pooled, balance(held, supply, pooled)):
            return None
        return after - before

    # -- routes and sales --------------------------------------------------------
    @cached_property
    def routes(self) -> dict[str, tuple[Pool, ...]]:
        """For each non-reserve token, the pools a sale to the reserve goes through:
        fewest hops, ties broken by the order the pools were declared in."""
        u = self.universe
        edges: dict[str, list[tuple[str, Pool]]] = {s: [] for s in u.tokens}
        for pool in u.pools.values():
            edges[pool.base.symbol].append((pool.quote.symbol, pool))
            edges[pool.quote.symbol].append((pool.base.symbol, pool))
        reserve = u.reserve.symbol
        via: dict[str, tuple[str, Pool] | None] = {reserve: None}
        queue = deque([reserve])
        while queue:
            here = queue.popleft()
            for there, pool in edges[here]:
                if there not in via:
                    via[there] = (here, pool)
                    queue.append(there)
        routes: dict[str, tuple[Pool, ...]] = {}
        for symbol in u.tokens:
            if symbol == reserve or symbol not in via:
                continue
            hops, cur = [], symbol
            while (step := via[cur]) is not None:
                hops.append(step[1])
                cur = step[0]
            routes[symbol] = tuple(hops)
        return routes

    def sale_proceeds(self, symbol: str, units: int, block: int) -> int:
        """Reserve units that selling `units` of `symbol` at `block` would deliver to the vault."""
        return self.sale_proceeds_many({symbol: units}, block)[symbol]

    def sale_proceeds_many(self, amounts: dict[str, int], block: int) -> dict[str, int]:
        view = self.view(block)
        reserves, fees = view.reserves, view.transfer_fees
        out: dict[str, int] = {}
        for symbol, units in amounts.items():
            token = self.universe.tokens[symbol]
            route = self.routes.get(symbol)
            if route is None or units <= 0:
                out[symbol] = 0
                continue
            for pool in route:
                units -= units * fees.get(token.symbol, 0) // BPS  # what reaches the pair
                other = _other_side(pool, token)
                if pool.dex == Dex.uniswap_v3:
                    units = self._v3_amount_out(pool, token, other, units, block)
                else:
                    units = self._amount_out(pool, token, other, units, reserves[pool.address])
                token = other
            out[symbol] = units - units * fees.get(token.symbol, 0) // BPS  # what reaches the vault
        return out

    def _amount_out(self, pool: Pool, token_in: Token, token_out: Token, amount_in: int,
                    reserves: tuple[int, int]) -> int:
        """Uniswap v2's constant-product output with the pair's own fee."""
        reserve_in, reserve_out = _oriented(reserves, token_in, token_out)
        if amount_in <= 0 or reserve_in == 0 or reserve_out == 0:
            return 0
        with_fee = amount_in * (BPS - self.pool_fees[pool.address])
        return with_fee * reserve_out // (reserve_in * BPS + with_fee)

    def _v3_amount_out(self, pool: Pool, token_in: Token, token_out: Token, amount_in: int, block: int) -> int:
        """What the v3 pool pays for `amount_in` at `block`, as the chain's view quoter says."""
        if amount_in <= 0:
            return 0
        data = self._v3_quote.encode(token_in.address, token_out.address, pool.fee_pips, amount_in)
        return int(self._v3_quote.decode_one(self._call_many([(self.universe.v3_quoter, data)], block)[0]))

    @estimates  # a price: 28 digits, whatever the caller's context (an invariant's is exact)
    def mid_price(self, symbol: str, block: int) -> Decimal:
        """Reserve per unit of `symbol` along its route, from reserves (no fee, no impact)."""
        route = self.routes.get(symbol)
        if route is None:
            return Decimal(0)
        view = self.view(block)
        reserves = view.reserves
        token = self.universe.tokens[symbol]
        price = Decimal(1)
        for pool in route:
            other = _other_side(pool, token)
            if pool.dex == Dex.uniswap_v3:  # sqrtPriceX96**2 / 2**192: token1 units per token0 unit
                ratio = Decimal(view.sqrt_prices[pool.address]) ** 2 / Decimal(2**192)
                units_out_per_in = ratio if token.address < other.address else 1 / ratio
                price *= units_out_per_in * Decimal(10) ** (token.decimals - other.decimals)
                token = other
                continue
            r_in, r_out = _oriented(reserves[pool.address], token, other)
            if r_in == 0:
                return Decimal(0)
            price *= other.from_units(r_out) / token.from_units(r_in)
            token = other
        return price

    # -- the NAV -----------------------------------------------------------------
    def valuation(self, block: int | None = None) -> Valuation:
        """The vault's NAV from chain reads alone, at `block` (the head by default)."""
        held = self.holdings(block)
        u = self.universe
        reserve = u.reserve
        others = {s: n for s, n in held.units.items() if s != reserve.symbol and n > 0}
        proceeds = self.sale_proceeds_many(others, held.block) if others else {}
        by_asset = {reserve.symbol: reserve.from_units(held.units.get(reserve.symbol, 0))}
        by_asset.update({s: reserve.from_units(v) for s, v in proceeds.items()})
        nav = total(by_asset.values())  # exactly: 2**96 base units are 29 digits
        return Valuation(held.block, nav, by_asset, reserve.from_units(held.share_supply))


__all__ = ["ChainTruth", "Holdings", "Valuation", "View"]
