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

The legacy vault has no queue (a redemption it cannot pay reverts); nothing here runs for it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet
from runner.state import State, TradeExecution
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

    def fulfil(self) -> bool:
        """Pay what the cash can of the queue, oldest first; True when the call succeeded."""
        self.chain.sync_nonce(self.wallet)
        receipt = self.chain.transact(self.wallet, self.universe.vault, self._fulfil.encode(MAX_FULFIL), FULFIL_GAS)
        if not receipt.success:
            logger.warning("fulfillRedemptions failed: %s", receipt.revert_reason)
        return receipt.success
