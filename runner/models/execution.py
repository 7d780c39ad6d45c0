"""Execution: turn approved trades into signed vault swaps, broadcast, confirm, settle.

The order matters for crash safety: every transaction is signed and its hash written to
the trade (and the state saved by the runner) before the node sees it. Whatever point
a crash hits, `repair_state()` can then find out from the chain what really happened.

Amounts are converted and booked exactly (runner/money.py); the LP fee a settlement
records is an estimate from the pools' fee settings, as it always was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from runner.chain.abi import artifact
from runner.chain.backend import Log, Receipt
from runner.chain.client import ChainClient, SignedTransaction
from runner.chain.wallet import Wallet, checksum
from runner.models.pricing import PricingModel
from runner.models.routing import RoutingModel
from runner.models.shares import share_moves
from runner.models.v3math import encode_path
from runner.money import books, rounded
from runner.state import BlockchainTransaction, State, TradeExecution
from runner.universe import Dex, Token, Universe, VaultKind

SWAP_GAS_PER_HOP = 180_000
SWAP_GAS_BASE = 120_000
#: The real vaults read the fault switch, the router's factory and four balances, and
#: a v3 hop runs the pool's tick loop: more headroom than the legacy vault's swap.
REAL_SWAP_GAS_BASE = 200_000
REAL_SWAP_GAS_PER_HOP = 250_000
STRATEGY_VAULT = "StrategyVault4626"  # swapV2/swapV3 are ManagedVaultBase's, shared by both real vaults


class MixedRoute(ValueError):
    """A route whose pools are on different exchanges: one vault swap goes through one router."""
DEADLINE = timedelta(hours=1)
STALE_RECEIPT_REREADS = 2
"""Receipt reads confirm repeats for transactions in a block the runner itself sealed."""


@dataclass(frozen=True)
class SwapResult:
    amount_in: int
    amount_out: int


def failure_reason(receipt: Receipt) -> str:
    if receipt.revert_reason:
        return receipt.revert_reason
    if receipt.out_of_gas:
        return f"out of gas ({receipt.gas_used} of {receipt.gas_limit})"
    return "reverted without a reason"


@books
class ExecutionModel:
    """Trades through the strategy vault's guarded `swap`, from the asset manager key."""

    def __init__(
        self,
        chain: ChainClient,
        wallet: Wallet,
        universe: Universe,
        routing: RoutingModel,
    ) -> None:
        self.chain = chain
        self.wallet = wallet
        self.universe = universe
        self.routing = routing
        self._vault = artifact("Vault")
        self._swap = self._vault.fn("swap")
        self._swapped = self._vault.event("Swapped")  # the same event on the real vaults
        real = artifact(STRATEGY_VAULT)
        self._swap_v2, self._swap_v3 = real.fn("swapV2"), real.fn("swapV3")
        self._balance_of = artifact("TestToken").fn("balanceOf")
        rebasing = artifact("RebasingToken")
        self._shares_of, self._total_shares = rebasing.fn("sharesOf"), rebasing.fn("getTotalShares")
        self._total_pooled = rebasing.fn("getTotalPooled")
        self._transfer = rebasing.event("Transfer")
        self._rebase, self._interest = rebasing.event("Rebase"), rebasing.event("InterestAccrued")
        self._tokens_by_address = {t.address: t for t in universe.tokens.values()}
        self.known_balances: dict[str, int] | None = None  # this cycle's on-chain balances
        self._signed: dict[int, tuple[SignedTransaction, bytes]] = {}  # trade id -> (signed, calldata)

    # -- 1. sign ------------------------------------------------------------
    def prepare(self, trade: TradeExecution, ts: datetime) -> str | None:
        """Sign the trade's swap and record the transaction on the trade.

        Returns a reason when there is nothing to send (a sell of tokens the vault does
        not hold): the trade then fails without a transaction.
        """
        asset = self.universe.pool(trade.pair).base.symbol
        if trade.is_buy:
            path = self.routing.buy_path(asset)
            amount_in = path[0].to_units(trade.planned_reserve)
            min_out = path[-1].to_units(trade.planned_quantity * (1 - trade.max_slippage))
        else:
            path = self.routing.sell_path(asset)
            amount_in = path[0].to_units(-trade.planned_quantity)
            known = self.known_balances or {}
            held = known[path[0].symbol] if path[0].symbol in known else int(
                self.chain.read(path[0].address, self._balance_of, self.universe.vault))
            if held < amount_in:
                # The ledger holds more than the vault (dust, a drain): sell what is really
                # there rather than send a swap that cannot be paid for.
                trade.notes.append(f"sell clamped to the vault's balance: {path[0].from_units(held)} "
                                   f"of {path[0].from_units(amount_in)}")
                if held == 0:
                    return f"nothing to sell: the vault holds no {path[0].symbol} (ledger {-trade.planned_quantity})"
                with rounded():  # the plan scaled down: an estimate
                    scale = Decimal(held) / Decimal(amount_in) if amount_in else Decimal(0)
                    scaled = trade.planned_reserve * scale
                trade.planned_reserve = path[-1].quantize(scaled)
                amount_in = held
            min_out = path[-1].to_units(trade.planned_reserve * (1 - trade.max_slippage))
        deadline = int((ts + DEADLINE).timestamp())
        data, gas, function = self._swap_call(path, amount_in, min_out, deadline)
        trade.route = [t.symbol for t in path]
        self._sign(trade, data, gas, function)
        return None

    def _swap_call(self, path: tuple[Token, ...], amount_in: int, min_out: int, deadline: int) -> tuple[bytes, int, str]:
        """The vault call that sells `amount_in` along `path`: (calldata, gas, function).

        legacy: Vault.swap (the fixture Router). A real vault: swapV2 through the pools'
        router (Router02's fee-on-transfer-safe variant, or the fixture Router), or swapV3
        through SwapRouter.exactInput with the packed path of the pools' fee tiers."""
        hops = len(path) - 1
        addresses = [t.address for t in path]
        if self.universe.vault_kind == VaultKind.legacy:
            return (self._swap.encode(amount_in, min_out, addresses, deadline),
                    SWAP_GAS_BASE + SWAP_GAS_PER_HOP * hops, "swap")
        pools = self.routing.pools_on(path)
        dexes = {p.dex for p in pools}
        if len(dexes) != 1:
            raise MixedRoute(f"route {'/'.join(t.symbol for t in path)} crosses {sorted(dexes)}: one swap, one router")
        dex = dexes.pop()
        router = self.universe.routers[dex]
        gas = REAL_SWAP_GAS_BASE + REAL_SWAP_GAS_PER_HOP * hops
        if dex == Dex.uniswap_v3:
            packed = encode_path(addresses, [p.fee_pips for p in pools])
            return self._swap_v3.encode(router, packed, amount_in, min_out, deadline), gas, "swapV3"
        return self._swap_v2.encode(router, amount_in, min_out, addresses, deadline), gas, "swapV2"

    def _sign(self, trade: TradeExecution, data: bytes, gas: int, function: str = "swap") -> None:
        signed = self.chain.sign(self.wallet, self.universe.vault, data, gas)
        self._signed[trade.trade_id] = (signed, data)
        trade.blockchain_transactions.append(
            BlockchainTransaction(
                tx_hash="0x" + signed.tx_hash.hex(),
                nonce=signed.nonce,
                from_address=self.wallet.checksum_address,
                to_address=checksum(self.universe.vault),
                function=function,
                gas_limit=gas,
            )
        )

    def resign(self, trade: TradeExecution) -> None:
        """Sign the trade's same swap again with the wallet's next nonce (the node refused
        the last one's nonce). The refused transaction stays in the trade's history."""
        signed, data = self._signed[trade.trade_id]
        self._sign(trade, data, signed.gas, trade.blockchain_transactions[-1].function)

    # -- 2. broadcast --------------------------------------------------------
    def broadcast(self, trade: TradeExecution, ts: datetime) -> None:
        """Send the signed swap; a refusal (TransactionRejected) leaves it signed, unsent."""
        signed, _data = self._signed[trade.trade_id]
        self.chain.broadcast(signed)
        del self._signed[trade.trade_id]
        trade.blockchain_transactions[-1].broadcast_at = ts

    def discard(self, trade: TradeExecution) -> None:
        """Forget a signed swap that will never be sent."""
        self._signed.pop(trade.trade_id, None)

    # -- 3. confirm ----------------------------------------------------------
    def confirm_all(self, trades: list[TradeExecution]) -> list[Receipt | None]:
        """Receipts for a batch of broadcast trades, in one round trip.

        Under automine the runner seals their block itself (wait_many), so the node has
        told it that block exists: a "no receipt" then is an answer from before it (a
        load-balanced replica a block behind), not "still pending". Such a read is not
        trusted: the missing receipts are read again, up to STALE_RECEIPT_REREADS times,
        before a trade is left broadcasted for the next cycle to resolve."""
        hashes = [bytes.fromhex(t.blockchain_transactions[-1].tx_hash[2:]) for t in trades]
        sealed = self.chain.automine and self.chain.open_block_ts is not None
        receipts = self.chain.wait_many(hashes)
        for _ in range(STALE_RECEIPT_REREADS if sealed else 0):
            missing = [i for i, r in enumerate(receipts) if r is None]
            if not missing:
                break
            again = self.chain.backend.get_receipts([hashes[i] for i in missing])
            for i, receipt in zip(missing, again, strict=True):
                receipts[i] = receipt
        return receipts

    def lookup(self, trade: TradeExecution) -> Receipt | None:
        """The receipt, if the chain has one, without mining anything (repair)."""
        if not trade.blockchain_transactions:
            return None
        return self.chain.backend.get_receipt(bytes.fromhex(trade.blockchain_transactions[-1].tx_hash[2:]))

    # -- 4. settle -----------------------------------------------------------
    def swapped_log(self, receipt: Receipt) -> Log | None:
        """The vault's Swapped log in the receipt (None: no swap happened)."""
        for log in receipt.logs:
            if log.address == self.universe.vault and log.topics and log.topics[0] == self._swapped.topic:
                return log
        return None

    def swap_result(self, receipt: Receipt) -> SwapResult | None:
        """What the swap moved in and out of the vault, in base units: its Swapped event.

        The real vaults measure both amounts from their own balances, and the fixture
        Router measures what reached the legacy vault; but the legacy vault's `amountIn`
        is what it sent, and a rebasing token debits its sender by shares rounded down
        (a unit less than sent, now and then). That input is booked as the vault's
        balance really moved (`_balance_change`), so the books stay the chain's."""
        log = self.swapped_log(receipt)
        if log is None:
            return None
        ev = self._swapped.decode(log.topics, log.data)
        amount_in = int(ev["amountIn"])
        if self.universe.vault_kind == VaultKind.legacy:
            token_in = self._tokens_by_address.get(bytes.fromhex(str(ev["tokenIn"])[2:]))
            if token_in is not None and token_in.rebasing:
                moved = self._balance_change(token_in, receipt)
                amount_in = -moved if moved is not None else amount_in
        return SwapResult(amount_in, int(ev["amountOut"]))

    def _balance_change(self, token: Token, receipt: Receipt) -> int | None:
        """How much the vault's balance of rebasing `token` changed in `receipt`'s
        transaction, as the token computes it (shares x pooled / total shares, rounded
        down) just before and just after it.

        The token's state at the block before, then each of the block's logs of the
        token applied in order: every change of it logs (TransferShares moves shares, a
        mint's or burn's Transfer changes the pool, Rebase and InterestAccrued set it), so
        other transactions in the block, before or after this one, are accounted for.
        None when the transaction logged nothing of the token."""
        block = receipt.block_number
        zero = "0x" + "00" * 20
        shares, total_shares, pooled = (int(x) for x in self.chain.read_many([
            (token.address, self._shares_of, (self.universe.vault,)),
            (token.address, self._total_shares, ()),
            (token.address, self._total_pooled, ()),
        ], block - 1))
        logs = sorted(self.chain.backend.get_logs(token.address, [], block, block), key=lambda lg: lg.log_index)
        before = after = None
        for log in logs:
            mine = log.tx_hash == receipt.tx_hash
            if mine and before is None:
                before = shares * pooled // total_shares if total_shares else 0
            topic = log.topics[0] if log.topics else b""
            moves = share_moves(log, self.universe.vault)
            if moves is not None:
                shares, total_shares = shares + moves[0], total_shares + moves[1]
                if total_shares == 0:  # the last share burned: the token drops any dust left
                    pooled = 0
            elif topic == self._transfer.topic:
                ev = self._transfer.decode(log.topics, log.data)
                src, dst, value = str(ev["from"]).lower(), str(ev["to"]).lower(), int(ev["value"])
                pooled += (value if src == zero else 0) - (value if dst == zero else 0)
            elif topic in (self._rebase.topic, self._interest.topic):
                ev = (self._rebase if topic == self._rebase.topic else self._interest).decode(log.topics, log.data)
                pooled = int(ev["newTotalPooled"])
            if mine:
                after = shares * pooled // total_shares if total_shares else 0
        if before is None or after is None:
            return None
        return after - before

    def settle(self, state: State, trade: TradeExecution, receipt: Receipt, ts: datetime,
               pricing: PricingModel | None = None) -> None:
        """Book a receipt on the trade and the portfolio, exactly once."""
        result = self.swap_result(receipt) if receipt.success else None  # may read the chain: before any change
        tx = trade.blockchain_transactions[-1]
        tx.block_number = receipt.block_number
        tx.status = receipt.status
        tx.gas_used = receipt.gas_used
        tx.revert_reason = receipt.revert_reason
        portfolio = state.portfolio
        if result is None:
            portfolio.settle_failure(trade, ts, failure_reason(receipt) if not receipt.success else "no Swapped event")
            return
        swapped = self.swapped_log(receipt)
        if swapped is not None and receipt.block_number > state.sync.last_block:
            # mined after the last sync: the next one checks a reorg has not replaced it
            state.sync.booked_swaps[f"0x{swapped.tx_hash.hex()}:{swapped.log_index}"] = receipt.block_number
        asset = self.universe.pool(trade.pair).base
        reserve = self.universe.reserve
        path_pools = self.routing.pools_on(
            self.routing.buy_path(asset.symbol) if trade.is_buy else self.routing.sell_path(asset.symbol)
        )
        with rounded():  # the share of what was paid the pools kept: an estimate
            keep = Decimal(1)
            for p in path_pools:
                keep *= 1 - p.fee
            fee_frac = 1 - keep
        if trade.is_buy:
            executed_reserve = reserve.from_units(result.amount_in)
            executed_quantity = asset.from_units(result.amount_out)
            with rounded():
                lp_fee = executed_reserve * fee_frac
        else:
            executed_quantity = -asset.from_units(result.amount_in)
            executed_reserve = reserve.from_units(result.amount_out)
            with rounded():
                lp_fee = executed_reserve * fee_frac / keep
        portfolio.settle_success(trade, ts, executed_quantity, executed_reserve, reserve.quantize(lp_fee))
