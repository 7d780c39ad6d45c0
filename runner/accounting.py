"""Accounting checks: the chain's balances against the ledger, row by row.

Every asset the strategy holds or could hold is compared: the reserve, every token of
the universe (a token we never bought must have a zero balance: an airdrop shows up),
and the vault's share supply against the shares the ledger has seen minted and burned.

Thresholds are in value, in the reserve currency, as the live trade executor judges
them: a difference is within tolerance, or dust, only when it is worth little (0.0009
WBTC is not dust because it is a small number). Each difference is valued at the pool's
mid price at the check; `tolerance_units`/`dust_units` are there for those who want
token units. A token that cannot be priced is judged in units only.

Balances, differences and corrections are exact (runner/money.py): a 24-decimal token's
10,000 units are 29 digits, past what the default context keeps. The tolerances and
relative differences a check records are estimates, in the 28 digits they always had.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from runner.chain.abi import Function, artifact
from runner.chain.client import ChainClient
from runner.chain.wallet import checksum
from runner.models.async_vault import ASYNC_VAULT
from runner.money import books, rounded, wide
from runner.state import (
    AccountingCheck,
    AccountingRow,
    BalanceUpdate,
    BalanceUpdateCause,
    CheckAction,
    CheckKind,
    MismatchPolicy,
    State,
    Verdict,
)
from runner.universe import Universe, VaultKind

SHARES = "vault shares"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountingPolicy:
    tolerance: Decimal = Decimal(0)  # value, in the reserve currency
    relative_tolerance: Decimal = Decimal(0)  # of the ledger balance's value
    dust: Decimal = Decimal(0)  # value, in the reserve currency
    on_mismatch: MismatchPolicy = MismatchPolicy.abort
    tolerance_units: Decimal | None = None  # token units, in addition to the value rule
    dust_units: Decimal | None = None
    value_digits: int = 12  # digits kept below the reserve's unit when valuing a difference


def share_price(state: State, universe: Universe) -> Decimal:
    """The ledger's NAV per share, what a share difference is worth (1 before any share)."""
    shares = ledger_balances(state, universe)[SHARES]
    if shares <= 0:
        return Decimal(1)
    with rounded():
        return state.portfolio.nav() / shares


@books
def ledger_balances(state: State, universe: Universe) -> dict[str, Decimal]:
    """What the ledger says the vault holds, per asset symbol (plus share supply)."""
    portfolio = state.portfolio
    out = {symbol: Decimal(0) for symbol in universe.tokens}
    out[universe.reserve.symbol] = portfolio.reserve.quantity + portfolio.allocated_to_trades()
    for pos in portfolio.open_positions.values():
        out[pos.asset] = out.get(pos.asset, Decimal(0)) + pos.quantity
    shares = Decimal(0)
    for bu in portfolio.balance_updates.values():
        if bu.shares is not None:
            shares += -bu.shares if bu.cause == BalanceUpdateCause.redemption else bu.shares
    out[SHARES] = shares
    return out


def chain_balances(chain: ChainClient, universe: Universe, block: int | None = None) -> dict[str, Decimal]:
    """The vault's balance of every universe token and its share supply, in one read.

    On the async vault the reserve is its `freeCash()`: the balance less the pending
    deposits and the assets reserved for settled redemptions, neither of which is the
    strategy's (see models/async_vault.py)."""
    erc20 = artifact("TestToken")
    vault = artifact("Vault")
    symbols = list(universe.tokens)
    calls: list[tuple[bytes, Function, tuple[Any, ...]]] = [
        (universe.tokens[s].address, erc20.fn("balanceOf"), (universe.vault,)) for s in symbols
    ]
    if universe.vault_kind == VaultKind.async_:
        calls[symbols.index(universe.reserve.symbol)] = (universe.vault, artifact(ASYNC_VAULT).fn("freeCash"), ())
    calls.append((universe.vault, vault.fn("totalSupply"), ()))
    values = chain.read_many(calls, block)
    out = {s: universe.tokens[s].from_units(v) for s, v in zip(symbols, values, strict=False)}
    out[SHARES] = universe.reserve.from_units(values[-1])
    return out


@books
def verdict_for(diff: Decimal, ledger: Decimal, price: Decimal | None,
                policy: AccountingPolicy) -> tuple[Verdict, Decimal]:
    """The verdict on one row and the tolerance it was judged by (in value): the
    difference's value is exact, the tolerance (a product with a relative one) the
    estimate it always was."""
    units_ok = policy.tolerance_units is not None and abs(diff) <= policy.tolerance_units
    units_dust = policy.dust_units is not None and abs(diff) <= policy.dust_units
    if price is None:  # no price: only a difference in units can be judged
        return (Verdict.ok if diff == 0 or units_ok else Verdict.dust if units_dust else Verdict.mismatch), Decimal(0)
    value = abs(diff) * price
    with rounded():
        tolerance = max(policy.tolerance, abs(ledger) * price * policy.relative_tolerance)
    if value <= tolerance or units_ok:
        return Verdict.ok, tolerance
    if value <= policy.dust or units_dust:
        return Verdict.dust, tolerance
    return Verdict.mismatch, tolerance


def _value(diff: Decimal, price: Decimal, unit: Decimal) -> Decimal:
    """A difference's value to `unit`, exactly: the default context's 28 digits cannot
    hold a large value to a fine unit (an 18-decimal reserve keeps 30 digits below 1)."""
    with wide():
        return (diff * price).quantize(unit)


@books
def run_check(
    chain: ChainClient,
    universe: Universe,
    state: State,
    policy: AccountingPolicy,
    kind: CheckKind,
    ts: datetime,
    block: int | None = None,
    prices: Mapping[str, Decimal] | None = None,
) -> AccountingCheck:
    """Compare and record; applying the policy is the caller's (the runner's) job.

    `prices` are reserve per unit of each token (mid prices at the check); the reserve
    is worth 1 and a share the ledger's NAV per share."""
    block_number = chain.block_number() if block is None else block
    on_chain = chain_balances(chain, universe, block_number)
    ledger = ledger_balances(state, universe)
    known = {**(prices or {}), universe.reserve.symbol: Decimal(1), SHARES: share_price(state, universe)}
    value_unit = universe.reserve.unit.scaleb(-policy.value_digits)
    rows = []
    for asset in [*universe.tokens, SHARES]:
        a, b = on_chain.get(asset, Decimal(0)), ledger.get(asset, Decimal(0))
        diff = a - b
        price = known.get(asset)
        verdict, tol = verdict_for(diff, b, price, policy)
        with rounded():
            rel = (diff / b) if b else (Decimal(0) if diff == 0 else Decimal(1))
        with wide():  # to 1e-12 however large (28 digits end at 1e16)
            rel = rel.quantize(Decimal("1e-12")) if rel else rel
        address = universe.vault if asset == SHARES else universe.tokens[asset].address
        pos = None
        if asset in universe.tokens and asset != universe.reserve.symbol:
            p = state.portfolio.open_position_for(universe.pair_for(asset))
            pos = p.position_id if p else None
        rows.append(AccountingRow(
            asset=asset, address=checksum(address), on_chain=a, ledger=b, difference=diff,
            relative_difference=rel, tolerance=tol,
            verdict=verdict, position_id=pos,
            value_difference=_value(diff, price, value_unit) if price is not None else None,
        ))
    outcome = Verdict.ok
    if any(r.verdict == Verdict.mismatch for r in rows):
        outcome = Verdict.mismatch
    elif any(r.verdict == Verdict.dust for r in rows):
        outcome = Verdict.dust
    check = AccountingCheck(
        check_id=len(state.accounting_checks) + 1, kind=kind, cycle=state.cycle, timestamp=ts,
        block_number=block_number, policy=policy.on_mismatch, rows=rows, outcome=outcome,
    )
    return check


@books
def apply_corrections(state: State, universe: Universe, check: AccountingCheck, ts: datetime) -> list[BalanceUpdate]:
    """Book each mismatch as a correction that says why and by how much."""
    out = []
    portfolio = state.portfolio
    for row in check.rows:
        if row.verdict != Verdict.mismatch:
            continue
        logger.warning("correction booked for %s: ledger %s, on chain %s (check #%d, %s)", row.asset, row.ledger, row.on_chain, check.check_id, check.kind)
        if row.asset == SHARES:
            # The share supply is the vault's: the ledger's count follows it, booking the
            # shares it never saw minted or burned (no asset moves).
            update = BalanceUpdate(
                balance_update_id=0, cause=BalanceUpdateCause.correction, asset=SHARES, quantity=Decimal(0),
                old_balance=row.ledger, new_balance=row.on_chain, block_number=check.block_number, timestamp=ts,
                event_key=f"correction:{check.check_id}:{row.asset}", shares=row.difference,
                notes=f"accounting check #{check.check_id} ({check.kind}): share supply {row.on_chain} "
                      f"vs ledger {row.ledger}",
            )
            portfolio.add_balance_update(update, None)
            row.correction_id = update.balance_update_id
            out.append(update)
            continue
        if row.asset == universe.reserve.symbol:
            pos = None
            old = portfolio.reserve.quantity
        else:
            pair = universe.pair_for(row.asset)
            pos = portfolio.open_position_for(pair)
            if pos is None:
                pos = portfolio.open_position(pair, row.asset, ts)
            old = pos.quantity
        update = BalanceUpdate(
            balance_update_id=0, cause=BalanceUpdateCause.correction, asset=row.asset,
            quantity=row.difference, old_balance=old, new_balance=old + row.difference,
            block_number=check.block_number, timestamp=ts,
            event_key=f"correction:{check.check_id}:{row.asset}",
            notes=f"accounting check #{check.check_id} ({check.kind}): on-chain {row.on_chain} vs ledger {row.ledger}",
        )
        portfolio.add_balance_update(update, pos)
        row.correction_id = update.balance_update_id
        out.append(update)
    check.action = CheckAction.corrected
    return out


def format_table(check: AccountingCheck) -> str:
    """The check as a fixed-width table, for error messages and logs."""
    header = f"{'asset':<14}{'on-chain':>28}{'ledger':>28}{'difference':>28}  verdict"
    lines = [f"accounting check #{check.check_id} ({check.kind}) at block {check.block_number}", header]
    for r in check.rows:
        on_chain, ledger, diff = (format(x, "f") for x in (r.on_chain, r.ledger, r.difference))
        lines.append(f"{r.asset:<14}{on_chain:>28}{ledger:>28}{diff:>28}  {r.verdict}")
    return "\n".join(lines)
