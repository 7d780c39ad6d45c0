"""Sync: turn what happened on chain behind the runner's back into BalanceUpdates.

Only explained changes are booked here: vault deposits and redemptions (ERC-4626
Deposit/Withdraw events; on the async vault, the settlements of its requests, see
models/async_vault.py) and rebases or interest of rebasing tokens (their events,
applied to the ledger quantity). An unexplained difference (an airdrop, a drain) is
left for the accounting check to find, never absorbed silently.
Every update is keyed by its event (tx hash and log index), so syncing a block range
twice books nothing the second time. Amounts and balances are booked exactly
(runner/money.py); a rebase's reserve value is an estimate, as it always was.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from runner.chain.abi import artifact
from runner.chain.backend import Log
from runner.chain.client import ChainClient
from runner.models.async_vault import ASYNC_VAULT
from runner.models.shares import share_moves
from runner.money import books, rounded
from runner.repair import rebook_event, reorg_entries, reverse_vanished_events
from runner.state import BalanceUpdate, BalanceUpdateCause, State, SyncState, TradingPosition
from runner.universe import Token, Universe, VaultKind

REORG_WINDOW = 64


@books
class VaultSyncModel:
    """Reads the strategy vault's and rebasing tokens' events up to a block."""

    def __init__(self, chain: ChainClient, universe: Universe) -> None:
        self.chain = chain
        self.universe = universe
        vault = artifact("Vault")
        token = artifact("RebasingToken")
        self._deposit = vault.event("Deposit")
        self._withdraw = vault.event("Withdraw")
        self._rebase = token.event("Rebase")
        self._interest = token.events.get("InterestAccrued")
        self._shares_of = token.fn("sharesOf")
        self._total_shares = token.fn("getTotalShares")
        self._rebasing = [t for t in universe.tokens.values() if t.rebasing]
        # The async vault: only settlements move the books (see models/async_vault.py).
        self._async = universe.vault_kind == VaultKind.async_
        async_vault = artifact(ASYNC_VAULT)
        self._deposit_settled = async_vault.event("DepositSettled")
        self._redeem_settled = async_vault.event("RedeemSettled")
        self._hashes: dict[int, bytes | None] = {}
        self._logs: list[Log] = []  # this sync's logs, and the block it reads to
        self._head = 0

    def sync(self, state: State, ts: datetime, end_block: int | None = None) -> list[BalanceUpdate]:
        head = self.chain.block_number() if end_block is None else end_block
        self._hashes = {}
        reorgs = state.sync.reorgs_detected
        start = self._resume_from(state, head)
        logs = self._read_logs(start, head)
        if state.sync.reorgs_detected == reorgs and state.sync.booked_swaps:
            # The swaps settled since the last sync were mined after it: the synced block
            # may stand while a reorg replaced theirs. Each must be among the logs read.
            start = self._check_booked_swaps(state, logs, start, head, end_block is None)
            if state.sync.reorgs_detected > reorgs:
                logs = self._read_logs(start, head)
        self._forget_booked_swaps(state, head, reorgs)
        self._logs, self._head = logs, head
        if head < start:
            state.sync.last_synced_at = ts
            return []
        keys = [f"0x{log.tx_hash.hex()}:{log.log_index}" for log in logs]
        updates: list[BalanceUpdate] = []
        if state.sync.reorgs_detected > reorgs:  # what was booked from the replaced blocks may be gone
            updates += reverse_vanished_events(state, self.universe, set(keys), start, head, ts)
        reversed_ = reorg_entries(state)
        for log, key in zip(logs, keys, strict=True):
            again = len(reversed_.get(key, ())) % 2 == 1  # a reorg reversed it; the chain has it again
            if state.portfolio.has_event(key) and not again:
                continue
            update = self._book(state, log, key, ts, again=reversed_.get(key, []) if again else None)
            if update is not None:
                updates.append(update)
        state.sync.last_block = head
        known = self._block_hash(head)
        state.sync.last_block_hash = "0x" + known.hex() if known else None
        state.sync.last_synced_at = ts
        return updates

    def _read_logs(self, start: int, head: int) -> list[Log]:
        """The vault's and the rebasing tokens' logs from `start` to `head`, in chain order."""
        if head < start:
            return []
        sources = [self.universe.vault, *(t.address for t in self._rebasing)]
        logs: list[Log] = list(self.chain.backend.get_logs(sources, [], start, head))
        logs.sort(key=lambda lg: (lg.block_number, lg.log_index))
        return logs

    def _check_booked_swaps(self, state: State, logs: list[Log], start: int, head: int, at_head: bool) -> int:
        """The first block to read, again: `start` while every swap settled since the last
        sync (`SyncState.booked_swaps`, mined after it) is where it was booked, in `logs`
        (from `start` to `head`). One that is not, or whose block is above the chain's head
        (`at_head`: `head` is the chain's), went with a reorg that replaced only blocks
        after the synced one (regressions/invariant-trades-match-chain-s1-r24): as for a
        replaced synced block, read again from REORG_WINDOW blocks before it."""
        sync = state.sync
        read = {f"0x{lg.tx_hash.hex()}:{lg.log_index}": lg.block_number for lg in logs}
        gone = [key for key, block in sync.booked_swaps.items()
                if start <= block and (block <= head or at_head) and read.get(key) != block]
        if not self._noticed(sync, bool(gone)):
            return start
        return max(1, min(head, sync.last_block) - REORG_WINDOW)

    @staticmethod
    def _forget_booked_swaps(state: State, head: int, reorgs: int) -> None:
        """The swaps this sync read past (found, or the reorg noticed, whose trades the
        runner then checks: runner.repair.recheck_after_reorg) need no more watching: the
        synced block a later reorg must replace to remove them is now above them."""
        sync = state.sync
        if sync.reorgs_detected > reorgs:
            sync.booked_swaps.clear()
        elif sync.booked_swaps:
            sync.booked_swaps = {key: block for key, block in sync.booked_swaps.items() if block > head}

    def _noticed(self, sync: SyncState, replaced: bool) -> bool:
        """A reorg replaced blocks the books were read from (`replaced`): counted, so
        that what was booked from them is checked against the chain."""
        if replaced:
            sync.reorgs_detected += 1
        return replaced

    def _block_hash(self, number: int) -> bytes | None:
        if number not in self._hashes:  # one read per block per sync
            self._hashes[number] = self.chain.backend.block_hash(number)
        return self._hashes[number]

    def _resume_from(self, state: State, head: int) -> int:
        """The first block to read: after the last synced one, unless the chain moved under us.

        If the block we synced last is gone or has another hash, a reorg replaced it: read
        again from REORG_WINDOW blocks before it. Booked events are keyed, so re-reading
        books only what is new; what vanished is reversed (runner.repair.reverse_vanished_events).
        """
        sync = state.sync
        if sync.last_block == 0 or sync.last_block_hash is None:
            return sync.last_block + 1
        current = self._block_hash(sync.last_block) if sync.last_block <= head else None
        if not self._noticed(sync, current is None or "0x" + current.hex() != sync.last_block_hash):
            return sync.last_block + 1
        return max(1, min(head, sync.last_block) - REORG_WINDOW)

    def _rebased_units(self, token: Token, block: int, old_total: int, new_total: int) -> int:
        """How many base units the rebase moved the vault's balance, computed as the token
        does: shares x pooled / total shares, rounded down, before and after (shares held
        at the rebase's block; a rebase moves no shares). Scaling the ledger's quantity
        instead rounds twice and drifts from the chain by a unit now and then."""
        shares, total_shares = self._shares_at(token, block)
        if total_shares == 0:
            return 0
        return int(shares * new_total // total_shares - shares * old_total // total_shares)

    def _shares_at(self, token: Token, block: int) -> tuple[int, int]:
        """The vault's shares of `token` and its total shares at the end of `block`: read at
        the head of this sync, less the token's TransferShares logs after `block` (this
        sync reads every log of the token up to its head). Not a read at `block`: a node
        restarted from a state dump, or one that prunes, has no state of the blocks before
        it, and the runner died on every resume (fuzz seed 4 run 15: a rebase, then a node
        restart before the tick that books it)."""
        shares, total = self.chain.read_many([
            (token.address, self._shares_of, (self.universe.vault,)),
            (token.address, self._total_shares, ()),
        ], self._head)
        for log in self._logs:
            moves = share_moves(log, self.universe.vault) if log.block_number > block and log.address == token.address else None
            if moves is not None:  # undone: what moved after `block`
                shares, total = shares - moves[0], total - moves[1]
        return shares, total

    def _book(self, state: State, log: Log, key: str, ts: datetime,
              again: list[BalanceUpdate] | None = None) -> BalanceUpdate | None:
        """Book the log's update; `again`: the reorg entries of an event booked before and
        reversed since, which the chain holds again (booked by runner.repair.rebook_event)."""
        if again is None and log.address == self.universe.vault and self._async:
            return self._book_settlement(state, log, key, ts)
        found = self._update(state, log, key, ts, passed=again is None)
        if found is None:
            return None
        update, pos = found
        if again is not None:
            update = rebook_event(update, again)
        return state.portfolio.add_balance_update(update, pos)

    def _update(self, state: State, log: Log, key: str, ts: datetime,
                passed: bool = True) -> tuple[BalanceUpdate, TradingPosition | None] | None:
        """What the log books and where (None: the reserve), not yet booked; a rebase that
        moved nothing of ours is remembered as passed (`passed`) and books nothing."""
        topic = log.topics[0] if log.topics else b""
        portfolio = state.portfolio
        reserve = self.universe.reserve
        if log.address == self.universe.vault and self._async:
            update = self._settlement(state, log, key, ts)
            return (update, None) if update is not None else None
        if log.address == self.universe.vault and topic in (self._deposit.topic, self._withdraw.topic):
            deposit = topic == self._deposit.topic
            ev = (self._deposit if deposit else self._withdraw).decode(log.topics, log.data)
            amount = reserve.from_units(int(ev["assets"]))
            shares = reserve.from_units(int(ev["shares"]))
            qty = amount if deposit else -amount
            owner = ev.get("owner")
            update = _reserve_flow(state, log, key, ts, reserve.symbol, deposit, qty, amount, shares,
                                   owner=str(owner) if owner is not None else None)
            return update, None
        for token in self._rebasing:
            if log.address != token.address:
                continue
            interest = self._interest is not None and topic == self._interest.topic
            if topic != self._rebase.topic and not interest:
                return None
            ev = (self._interest if interest else self._rebase).decode(log.topics, log.data)  # type: ignore[union-attr]
            old_total, new_total = int(ev["oldTotalPooled"]), int(ev["newTotalPooled"])
            pos = portfolio.open_position_for(self.universe.pair_for(token.symbol))
            if pos is None or pos.quantity == 0 or old_total == 0:
                # Read, and nothing of ours moved: remembered, so that reading this block
                # again (a reorg's re-sync) never books it against a position opened since.
                if passed:
                    portfolio.pass_event(key)
                return None
            delta = token.from_units(self._rebased_units(token, log.block_number, old_total, new_total))
            if delta == 0:
                if passed:
                    portfolio.pass_event(key)
                return None
            new_qty = pos.quantity + delta
            with rounded():  # what the change is worth: an estimate at the valuation price
                value = (delta * pos.valuation_price) if pos.valuation_price else None
            update = BalanceUpdate(
                balance_update_id=0,
                cause=BalanceUpdateCause.interest if interest else BalanceUpdateCause.rebase,
                asset=token.symbol,
                quantity=delta,
                old_balance=pos.quantity,
                new_balance=new_qty,
                block_number=log.block_number,
                timestamp=ts,
                event_key=key,
                tx_hash="0x" + log.tx_hash.hex(),
                reserve_value=value,
            )
            return update, pos
        return None

    def _book_settlement(self, state: State, log: Log, key: str, ts: datetime) -> BalanceUpdate | None:
        """Book an async vault's settlement (see _settlement), the first time it is read."""
        update = self._settlement(state, log, key, ts)
        return state.portfolio.add_balance_update(update, None) if update is not None else None

    def _settlement(self, state: State, log: Log, key: str, ts: datetime) -> BalanceUpdate | None:
        """An async vault's settlement, booked as the epoch's deposit (its assets become
        cash, its shares are minted) or redemption (its assets leave the cash for the
        claims' reserve, its shares are burned). Requests, cancellations, NAV updates and
        claims are not booked: none moves what the strategy owns or the share supply."""
        topic = log.topics[0] if log.topics else b""
        if topic not in (self._deposit_settled.topic, self._redeem_settled.topic):
            return None
        deposit = topic == self._deposit_settled.topic
        ev = (self._deposit_settled if deposit else self._redeem_settled).decode(log.topics, log.data)
        reserve = self.universe.reserve
        amount = reserve.from_units(int(ev["assets"]))
        supply_change = reserve.from_units(int(ev["shares"]))  # minted (deposits) or burned (redemptions)
        nav = reserve.from_units(int(ev["totalAssets"]))
        change = amount if deposit else -amount  # into the cash, or out of it into the claims' reserve
        return _reserve_flow(state, log, key, ts, reserve.symbol, deposit, change, amount, supply_change,
                             notes=f"{'deposit' if deposit else 'redemption'} requests of epoch "
                                   f"{int(ev['requestId'])} settled at NAV {nav}")


@books
def _reserve_flow(state: State, log: Log, key: str, ts: datetime, asset: str, deposit: bool, change: Decimal,
                  amount: Decimal, shares: Decimal, *, owner: str | None = None, notes: str = "") -> BalanceUpdate:
    """The reserve's movement of a vault deposit or redemption event, keyed by the event."""
    old = state.portfolio.reserve.quantity
    return BalanceUpdate(
        balance_update_id=0,
        cause=BalanceUpdateCause.deposit if deposit else BalanceUpdateCause.redemption,
        asset=asset,
        quantity=change,
        old_balance=old,
        new_balance=old + change,
        block_number=log.block_number,
        timestamp=ts,
        event_key=key,
        tx_hash="0x" + log.tx_hash.hex(),
        owner=owner,
        shares=shares,
        reserve_value=amount,
        notes=notes,
    )
