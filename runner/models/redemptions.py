"""The ERC-4626 vault's redemption queue, honoured by the runner.

StrategyVault4626 pays a redemption from its cash only; one the cash cannot pay is
queued (`requestRedeem`: the shares move into the vault and keep their share of the
NAV) and paid first in, first out by `fulfillRedemptions`, at the NAV of the paying
block, by anyone. Paying it is the asset manager's job, because only the asset manager
can turn holdings into cash:

- A cycle that finds the queue owed more than the vault's free cash (`queuedAssets()`,
  at the current NAV) does not ask the strategy: it sells every open position pro rata
  for the shortfall (plus a margin for the sells' own price impact), so the queue's
  owners are paid from all holdings as they stand, not from whatever the strategy
  would have sold.
- At the end of every cycle with a queue, the runner calls `fulfillRedemptions`, waits
  for it, and syncs again: the vault's `Withdraw` events are booked in the same cycle,
  so the ledger equals the chain when the cycle's checks and statistics run.
- The node may leave that call pending (blocks stalled) for as long as it likes, so it
  is written down before the node sees it, as a trade's swap is: signed, recorded in
  `state.pending_fulfilment`, saved, broadcast. A call the cycle gets no receipt for
  stays recorded, and the next cycle (or the next process, after a restart) resolves it
  before anything else (`resolve`, from the runner's repair): mined, its `Withdraw`
  events are booked by that cycle's sync, as they would have been; still in the
  mempool, the cycle waits for it (no trades, no second call on top of it, whose nonce
  would queue behind it); gone (dropped, or its nonce used by another transaction),
  it is forgotten and the cycle pays the queue afresh if it is still owed. The payouts
  themselves are the chain's: requests are paid once each by the vault, and booked once
  each from their logs, so no outcome pays or books one twice.

The legacy vault has no queue (a redemption it cannot pay reverts); nothing here runs for it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from runner.chain.abi import artifact
from runner.chain.backend import Receipt
from runner.chain.client import ChainClient
from runner.chain.errors import TransactionRejected
from runner.chain.wallet import Wallet, checksum
from runner.state import BlockchainTransaction, State, StateStore, TradeExecution
from runner.universe import Universe, VaultKind

logger = logging.getLogger(__name__)

#: Sells raise this much more than the shortfall: their own price impact and fees.
SELL_MARGIN = Decimal("0.02")
#: Requests paid per call; the vault stops earlier at the first one its cash cannot pay.
MAX_FULFIL = 50
FULFIL_GAS = 1_500_000


class RedemptionQueueModel:
    """Reads the queue and pays it, from the asset manager's key."""

    def __init__(self, chain: ChainClient, universe: Universe, wallet: Wallet) -> None:
        self.chain = chain
        self.universe = universe
        self.wallet = wallet
        vault = artifact("StrategyVault4626")
        self._owed = vault.fn("queuedAssets")
        self._fulfil = vault.fn("fulfillRedemptions")

    @property
    def active(self) -> bool:
        return self.universe.vault_kind == VaultKind.erc4626

    def owed(self) -> Decimal:
        """What the queue is owed at the NAV now, in reserve units (0 without a queue)."""
        if not self.active:
            return Decimal(0)
        return self.universe.reserve.from_units(int(self.chain.read(self.universe.vault, self._owed)))

    def liquidity_sells(self, ts: datetime, state: State, pricing: object, owed: Decimal) -> list[TradeExecution]:
        """Pro-rata sells of every open, unfrozen position for what the cash lacks."""
        from runner.strategy.position_manager import PositionManager

        shortfall = owed - state.portfolio.cash()
        unit = self.universe.reserve.unit
        positions = [p for p in state.portfolio.open_positions.values()
                     if p.quantity > 0 and p.value_in(unit) > 0 and not p.is_frozen]
        held = sum((p.value_in(unit) for p in positions), Decimal(0))
        if shortfall <= 0 or held <= 0:
            return []
        fraction = min(Decimal(1), shortfall * (1 + SELL_MARGIN) / held)
        pm = PositionManager(ts, self.universe, state, pricing)  # type: ignore[arg-type]
        trades = []
        for pos in positions:
            trade = pm.sell(pos.pair, pos.quantity * fraction)
            trade.notes.append(f"raises cash for the redemption queue (owed {owed}, cash {state.portfolio.cash()})")
            trades.append(trade)
        logger.info("redemption queue owed %s, cash short by %s: selling %s of every position", owed, shortfall,
                    fraction)
        return trades

    def fulfil(self, state: State, ts: datetime, store: StateStore | None = None) -> Receipt | None:
        """Pay what the cash can of the queue, oldest first: the call is signed, recorded
        as `state.pending_fulfilment` and saved before the node sees it, then broadcast
        and waited for. Returns its receipt (the record cleared), or None when the node
        left it pending: the record stays for the next cycle to resolve. A refusal by the
        node clears the record and propagates, as any node error of the cycle."""
        self.chain.sync_nonce(self.wallet)
        signed = self.chain.sign(self.wallet, self.universe.vault, self._fulfil.encode(MAX_FULFIL), FULFIL_GAS)
        state.pending_fulfilment = BlockchainTransaction(
            tx_hash="0x" + signed.tx_hash.hex(), nonce=signed.nonce, from_address=self.wallet.checksum_address,
            to_address=checksum(self.universe.vault), function="fulfillRedemptions", gas_limit=FULFIL_GAS,
            broadcast_at=ts)
        if store is not None:
            store.save(state)  # write-ahead: a restart finds the call whatever happens next
        try:
            self.chain.broadcast(signed)
        except TransactionRejected:
            self.wallet.nonce = signed.nonce  # not consumed
            state.pending_fulfilment = None
            raise
        receipt = self.chain.wait(signed.tx_hash)
        if receipt is None:
            logger.warning("fulfillRedemptions %s (nonce %d) not mined: left pending for the next cycle",
                           state.pending_fulfilment.tx_hash, signed.nonce)
            return None
        self._answered(state, receipt)
        return receipt

    def resolve(self, state: State, confirmed_nonce: int, pending: set[bytes]) -> str | None:
        """What became of the payment an earlier cycle (or process) left pending, from the
        chain's answers: its receipt, `pending` (the hashes the node still holds) and the
        account's mined nonce. Mined: the record is cleared (the sync that follows books
        its Withdraw events). In the mempool: kept, for the cycle to wait on. Neither: it
        will never be mined; cleared, so the cycle pays the queue afresh. Returns what was
        found, in words; None when nothing was pending. Resolving again changes nothing."""
        tx = state.pending_fulfilment
        if tx is None:
            return None
        tx_hash = bytes.fromhex(tx.tx_hash[2:])
        receipt = self.chain.backend.get_receipt(tx_hash)
        if receipt is not None:
            self._answered(state, receipt)
            return f"redemption payment {tx.tx_hash} mined in block {receipt.block_number}" + \
                ("" if receipt.success else f", reverted: {receipt.revert_reason}")
        if tx_hash in pending:
            logger.info("redemption payment %s still in the mempool; the cycle waits for it", tx.tx_hash)
            return f"redemption payment {tx.tx_hash} still pending on the node"
        state.pending_fulfilment = None
        why = (f"its nonce {tx.nonce} was used by another transaction" if confirmed_nonce > tx.nonce
               else f"dropped by the node (nonce {tx.nonce} unused)")
        logger.warning("redemption payment %s will never be mined (%s): paid afresh if the queue is still owed",
                       tx.tx_hash, why)
        return f"redemption payment {tx.tx_hash} never mined ({why}): forgotten"

    def _answered(self, state: State, receipt: Receipt) -> None:
        state.pending_fulfilment = None
        if not receipt.success:
            logger.warning("fulfillRedemptions failed: %s", receipt.revert_reason)
