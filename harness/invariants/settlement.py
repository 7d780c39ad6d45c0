"""Trades against their receipts: what was charged, what reached the chain, what is left.

The receipts are the chain's word: a trade's executed amounts are the vault's
`Swapped` event, its status the receipt's, its LP fee the pools' own fee settings.
Amounts are compared exactly (runner/money.py: every check runs in the exact context);
the LP fee and slippage are worked out as the runner estimates them, in 28 digits.
"""

from __future__ import annotations

from decimal import Decimal

from harness.invariants.core import (
    Moment,
    Point,
    Violation,
    copy_state,
    invariant,
    state_difference,
)
from runner.chain.abi import artifact
from runner.chain.backend import Receipt
from runner.money import rounded
from runner.repair import reversed_by_reorg
from runner.state import TradeExecution, TradeStatus, encode_state
from runner.universe import VaultKind

_SWAPPED = artifact("Vault").event("Swapped")


def _hash(t: TradeExecution) -> bytes | None:
    return bytes.fromhex(t.blockchain_transactions[-1].tx_hash[2:]) if t.blockchain_transactions else None


def _swapped(receipt: Receipt, vault: bytes) -> tuple[int, int] | None:
    for log in receipt.logs:
        if log.address == vault and log.topics and log.topics[0] == _SWAPPED.topic:
            ev = _SWAPPED.decode(log.topics, log.data)
            return int(ev["amountIn"]), int(ev["amountOut"])
    return None


@invariant("costs-as-charged", Point.tick, Point.trigger, Point.restart)
def costs_as_charged(m: Moment) -> list[Violation]:
    """Each trade settled since the last check carries what its receipt says: status,
    executed amounts (the vault's Swapped event, to the base unit; for a rebasing token
    the legacy vault sold, the vault's balance change in the transaction, as
    ChainTruth.rebasing_change reads it), the LP fee the route's pools charge (their fee
    settings read from chain) and the slippage those amounts give against the planned
    price."""
    done: set[int] = m.memory.setdefault("done", set())
    settled = (TradeStatus.success, TradeStatus.failed)
    # the ids not checked yet by a set difference per position (in C; a trade is filed
    # under its own id, which a load verifies), not a walk of every trade ever made
    unchecked = (t for pos in m.state.portfolio.all_positions()
                 for t in map(pos.trades.__getitem__, pos.trades.keys() - done))
    fresh = sorted((t for t in unchecked
                    if t.trade_id not in done and not t.is_repair and t.status in settled
                    and _hash(t) is not None), key=lambda t: t.trade_id)
    if not fresh:
        return []
    receipts = m.truth.backend.get_receipts([_hash(t) for t in fresh])  # type: ignore[misc]
    u = m.universe
    fees = m.truth.pool_fees
    out = []
    for t, receipt in zip(fresh, receipts, strict=True):
        done.add(t.trade_id)
        if receipt is None:
            if t.blockchain_transactions[-1].broadcast_at is not None or t.status == TradeStatus.success:
                out.append(m.violation("costs-as-charged", "no receipt", t.status.value,
                                       f"trade #{t.trade_id} is {t.status.value} but the chain has no receipt for it"))
            continue
        if (t.status == TradeStatus.success) != receipt.success:
            out.append(m.violation("costs-as-charged", f"receipt status {receipt.status}", t.status.value,
                                   f"trade #{t.trade_id} settled against its receipt's status"))
            continue
        if t.status != TradeStatus.success:
            continue
        amounts = _swapped(receipt, u.vault)
        if amounts is None:
            out.append(m.violation("costs-as-charged", "a Swapped event", "success",
                                   f"trade #{t.trade_id} succeeded without the vault's Swapped event"))
            continue
        asset = u.tokens[u.pool(t.pair).base.symbol]
        units_in, units_out = amounts
        token_in = u.reserve if t.is_buy else asset
        if u.vault_kind == VaultKind.legacy and token_in.rebasing:
            # The legacy vault's amountIn is what it sent; a rebasing token debits the sender
            # by shares rounded down, so the chain's word is the vault's balance change.
            moved = m.truth.rebasing_change(token_in, receipt)
            units_in = -moved if moved is not None else units_in
        if t.is_buy:
            chain_reserve, chain_qty = u.reserve.from_units(units_in), asset.from_units(units_out)
        else:
            chain_qty, chain_reserve = -asset.from_units(units_in), u.reserve.from_units(units_out)
        if (chain_qty, chain_reserve) != (t.executed_quantity, t.executed_reserve):
            out.append(m.violation("costs-as-charged", f"quantity {chain_qty} for {chain_reserve}",
                                   f"quantity {t.executed_quantity} for {t.executed_reserve}",
                                   f"trade #{t.trade_id} booked other amounts than its Swapped event"))
            continue
        with rounded():
            keep = Decimal(1)
            for a, b in zip(t.route, t.route[1:], strict=False):
                pool = next(p for p in u.pools.values() if {p.base.symbol, p.quote.symbol} == {a, b})
                keep *= 1 - Decimal(fees[pool.address]) / 10_000
            fee = chain_reserve * (1 - keep) if t.is_buy else chain_reserve * (1 - keep) / keep
        fee = u.reserve.quantize(fee)
        if t.lp_fees_paid is None or abs(t.lp_fees_paid - fee) > u.reserve.unit:
            out.append(m.violation("costs-as-charged", f"LP fee {fee}", f"LP fee {t.lp_fees_paid}",
                                   f"trade #{t.trade_id}'s LP fee is not what its route's pools charge"))
        if chain_qty and t.planned_price:
            with rounded():
                price = chain_reserve / abs(chain_qty)
                slippage = (price - t.planned_price) / t.planned_price * (1 if t.is_buy else -1)
            if t.slippage is None or abs(t.slippage - slippage) > Decimal("1e-18"):
                out.append(m.violation("costs-as-charged", f"slippage {slippage}", f"slippage {t.slippage}",
                                       f"trade #{t.trade_id}'s slippage is not what its amounts give"))
    return out


def _booked_swaps_gone(m: Moment) -> bool:
    """A swap the runner settled after its last sync is no longer where it booked it."""
    for key, block in m.state.sync.booked_swaps.items():
        logs = m.truth.backend.get_logs(m.universe.vault, [_SWAPPED.topic], block, block) if block <= m.block else []
        if key not in {f"0x{lg.tx_hash.hex()}:{lg.log_index}" for lg in logs}:
            return True
    return False


@invariant("trades-match-chain", Point.restart, Point.end)
def trades_match_chain(m: Moment) -> list[Violation]:
    """No trade lost or doubled across restarts: the swaps the vault made (its Swapped
    events, from the chain's logs) are exactly the trades the ledger settled as
    successful, one trade per transaction. A settled trade the ledger reversed after a
    reorg (its `reorg:` entries) counts as not settled: its swap must be off the chain."""
    u = m.universe
    logs = m.truth.backend.get_logs(u.vault, [_SWAPPED.topic], m.first_block, m.block)
    on_chain = sorted("0x" + lg.tx_hash.hex() for lg in logs)
    undone = reversed_by_reorg(m.state)
    settled = sorted(t.blockchain_transactions[-1].tx_hash for t in m.state.portfolio.all_trades()
                     if t.status == TradeStatus.success and not t.is_repair and t.blockchain_transactions
                     and t.blockchain_transactions[-1].tx_hash not in undone)
    if on_chain == settled:
        return []
    lost = sorted(set(on_chain) - set(settled))
    extra = sorted(set(settled) - set(on_chain))
    sync = m.state.sync
    if extra and sync.last_synced_at != m.time and sync.last_block_hash is not None:
        # The last save of a runner that stopped (an aborting check) before it synced the
        # chain a reorg left: it still holds the trades of the replaced blocks, and takes
        # them back when it syncs again (runner.repair.recheck_after_reorg). What it settled
        # on the chain it knew is not judged against one it has not read (as booked-once).
        # So is one that replaced only the blocks of the trades it settled after its last
        # sync (SyncState.booked_swaps): their Swapped logs are gone from where it booked them.
        synced = m.truth.backend.block_hash(sync.last_block)
        if synced is None or "0x" + synced.hex() != sync.last_block_hash or _booked_swaps_gone(m):
            extra = []
    if not lost and not extra and len(set(settled)) == len(settled):
        return []
    twice = sorted({h for h in settled if settled.count(h) > 1})
    return [m.violation("trades-match-chain", f"{len(on_chain)} swaps on chain", f"{len(settled)} settled trades",
                        f"on chain but not settled: {lost or 'none'}"
                        + (f" (reversed after a reorg: {sorted(set(lost) & undone)})" if set(lost) & undone else "")
                        + f"; settled but not on chain: {extra or 'none'}; settled twice: {twice or 'none'}")]


@invariant("nothing-unfinished", Point.end)
def nothing_unfinished(m: Moment) -> list[Violation]:
    """At the end no trade is left planned, started or broadcasted, and no redemption
    payment is left recorded as pending, unless the node still holds its transaction
    (blocks stalled until the end)."""
    out = []
    paying = m.state.pending_fulfilment
    if paying is not None and bytes.fromhex(paying.tx_hash[2:]) not in m.pending:
        out.append(m.violation("nothing-unfinished", "no redemption payment pending (or pending on the node)",
                               f"redemption payment {paying.tx_hash} pending",
                               f"the state still records fulfillRedemptions {paying.tx_hash} (nonce {paying.nonce}) "
                               "as pending, and the node does not hold it"))
    for t in m.state.portfolio.all_trades():
        if not t.is_unfinished:
            continue
        h = _hash(t)
        if h is not None and h in m.pending:
            continue
        out.append(m.violation("nothing-unfinished", f"trade #{t.trade_id} finished (or pending on the node)",
                               f"trade #{t.trade_id} {t.status.value}",
                               f"trade #{t.trade_id} {t.pair} is still {t.status.value}"))
    return out


@invariant("repair-idempotent", Point.restart)
def repair_idempotent(m: Moment) -> list[Violation]:
    """After a restart's repair, repairing again (a fresh runner, the same chain) changes
    nothing: every unfinished trade was resolved once, and only once, and no position
    left frozen is one a repair frees. A violation names the trades fixed again and the
    first path of the state document that changed, with its value after each repair."""
    again = copy_state(m.state)
    fixed = m.spare_runner().repair_state(again, m.time)
    if not fixed and encode_state(again) == encode_state(m.state):
        return []
    what = [f"trade(s) {', '.join(f'#{t.trade_id} {t.status.value}' for t in fixed)} fixed again"] if fixed else []
    diff = state_difference(m.state, again)
    if diff is not None:
        path, before, after = diff
        what.append(f"first difference at {path}: {_brief(before)} after the first repair, "
                    f"{_brief(after)} after the second")
    elif not fixed:  # the same content, encoded otherwise: a mapping's order
        what.append("the same values in another order (the encoded state differs, no value does)")
    expected, found = ("0 trades changed", f"{len(fixed)} trade(s) changed") if fixed or diff is None else \
        (f"{diff[0]} = {_brief(diff[1])}", f"{diff[0]} = {_brief(diff[2])}")
    return [m.violation("repair-idempotent", expected, found, "a second repair changed the state: " + "; ".join(what))]


def _brief(value: object, limit: int = 160) -> str:
    text = "null" if value is None else repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"
