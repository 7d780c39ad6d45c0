"""The asynchronous (ERC-7540) vault's requests, settled by the runner.

On AsyncStrategyVault an investor's deposit or redemption is a *request*: the assets (or
shares) wait in the vault until the asset manager settles the open epoch at a NAV it
supplies (`settleDeposit(newTotalAssets)` / `settleRedeem(newTotalAssets)`), and the
investor claims afterwards. The runner's side of that:

- Pending requests are the chain's, read from the vault's views at each cycle
  (`pendingDepositAssets`, `pendingRedeemShares`), never kept in the books: a pending
  deposit is not NAV and not cash the strategy may spend (the vault's `freeCash()`
  excludes it, and the accounting check compares the books' cash with `freeCash()`).
- Only settlements move the books (see models/sync.py): `DepositSettled` books the
  epoch's assets as cash and its minted shares, `RedeemSettled` books the reserved
  assets out and its shares burned. Claims move nothing the strategy owns.
- A cycle that finds redemptions pending values them at the books' NAV per share; when
  the cash cannot pay that it sells every position pro rata for the shortfall (the
  ERC-4626 queue's `liquidity_sells`), and in either case does not run the strategy,
  which could spend the cash they are owed.
- A request is settled by the first cycle after a sync of the runner saw it pending: so
  a request made between two cycles stays pending across the next one (its books and
  NAV unchanged by it, its redemption's cash kept) and is settled by the one after. The
  settlement comes at the end of that cycle: deposits first, then redemptions, each at
  the books' NAV at that moment (after the cycle's trades, synced and revalued, the NAV
  chain truth values the holdings at in the block before), then a sync, so it is booked
  in the same cycle. Which epochs are due is read from the chain (the open epochs at the
  block the runner last synced, still open now), so a settlement a crashed run sent
  before saving (or anyone else's) is found by the sync and never settled or booked twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.chain.wallet import Wallet
from runner.universe import Universe, VaultKind

logger = logging.getLogger(__name__)

ASYNC_VAULT = "AsyncStrategyVault"
SETTLE_GAS = 400_000


@dataclass(frozen=True)
class Epochs:
    """The vault's open epochs at one block: their ids and what is pending in them."""

    deposit_id: int
    pending_assets: int  # base units of the reserve
    redeem_id: int
    pending_shares: int
    supply: int

    def due(self) -> Due:
        """The epochs that hold pending requests at this block: the ones to settle next."""
        return Due(self.deposit_id if self.pending_assets else None, self.redeem_id if self.pending_shares else None)


@dataclass(frozen=True)
class Due:
    """Which open epochs a cycle settles (None: none of that kind)."""

    deposit_id: int | None = None
    redeem_id: int | None = None


class AsyncVaultModel:
    """Reads the pending requests and settles them, from the asset manager's key."""

    def __init__(self, chain: ChainClient, universe: Universe, wallet: Wallet) -> None:
        self.chain = chain
        self.universe = universe
        self.wallet = wallet
        vault = artifact(ASYNC_VAULT)
        self._views = [vault.fn(name) for name in
                       ("depositRequestId", "pendingDepositAssets", "redeemRequestId", "pendingRedeemShares",
                        "totalSupply")]
        self._settle_deposit = vault.fn("settleDeposit")
        self._settle_redeem = vault.fn("settleRedeem")

    @property
    def active(self) -> bool:
        return self.universe.vault_kind == VaultKind.async_

    def epochs(self, block: int | None = None) -> Epochs:
        """The open epochs at `block` (the head by default), in one read."""
        values = self.chain.read_many([(self.universe.vault, fn, ()) for fn in self._views], block)
        return Epochs(*(int(v) for v in values))

    def due(self, synced_block: int) -> Due:
        """The epochs this cycle settles: those that already held pending requests at the
        block the runner last synced to (a request a sync of the runner has seen, so that
        it stayed pending across a cycle's books). Nothing before the first sync."""
        if not self.active or synced_block <= 0:
            return Due()
        return self.epochs(min(synced_block, self.chain.block_number())).due()  # a reorg may have shortened the chain

    def owed(self, nav: Decimal) -> Decimal:
        """What the pending redemptions are worth at the books' NAV `nav`, as settling now
        would pay them (shares x (NAV + 1 unit) / (supply + 1 unit), rounded down)."""
        if not self.active:
            return Decimal(0)
        now = self.epochs()
        if now.pending_shares == 0:
            return Decimal(0)
        reserve = self.universe.reserve
        nav_units = max(0, reserve.to_units(nav))
        return reserve.from_units(now.pending_shares * (nav_units + 1) // (now.supply + 1))

    def settle(self, due: Due, refresh: Callable[[], Decimal]) -> list[str]:
        """Settle the due deposit epoch, then the due redemption epoch, if each is still
        open (a settlement sent by a crashed run, or by anyone, has closed it: nothing to
        do), each at the NAV `refresh()` returns (it syncs and revalues the books first,
        so redemptions settle at a NAV that includes the deposits just settled). Requests
        that joined a due epoch since are settled with it (the vault converts an epoch
        whole). Returns one line per settlement; a failed one is logged and left pending
        on chain for the next cycle."""
        done: list[str] = []
        if not self.active or not self.chain.automine:
            return done  # blocks stalled: a settlement would not land; the next cycle settles
        for kind, epoch, fn in (("deposit", due.deposit_id, self._settle_deposit),
                                ("redemption", due.redeem_id, self._settle_redeem)):
            if epoch is None:
                continue
            now = self.epochs()
            open_id, pending = (now.deposit_id, now.pending_assets) if kind == "deposit" else \
                (now.redeem_id, now.pending_shares)
            if open_id != epoch or pending == 0:
                continue  # settled (or cancelled) since the runner saw it
            value = refresh()
            if value < 0 or (value == 0 and now.supply > 0):
                logger.warning("%s epoch %d pending but the books' NAV is %s: not settled", kind, epoch, value)
                continue
            self.chain.sync_nonce(self.wallet)
            receipt = self.chain.transact(self.wallet, self.universe.vault,
                                          fn.encode(self.universe.reserve.to_units(value)), SETTLE_GAS)
            if not receipt.success:
                logger.warning("settling %s epoch %d at NAV %s failed: %s", kind, epoch, value, receipt.revert_reason)
                done.append(f"{kind} epoch {epoch} not settled: {receipt.revert_reason}")
                continue
            logger.info("settled %s epoch %d at NAV %s", kind, epoch, value)
            done.append(f"{kind} epoch {epoch} settled at NAV {value}")
        return done
