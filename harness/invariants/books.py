"""The books against the chain: NAV, holdings, and the state file that must hold them.

A difference is excused only when the harness planted it (it moved the asset behind
the runner's back) and an accounting check of the runner flagged it at the same
instant: the runner saw it and said so, which is its job. A difference nobody planted
is the runner's own error, flagged or not.

Holdings, NAVs and P&L are added up exactly (runner/money.py; every check runs in the
exact context, and so do these helpers wherever they are called from): a 24-decimal
token's 10,000 units are 29 digits, and a comparison that rounds them finds differences,
or hides them, at the 29th.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec

from harness.invariants.core import (
    Moment,
    NavPoint,
    Point,
    Violation,
    copy_state,
    invariant,
)
from runner.accounting import SHARES
from runner.money import books
from runner.state import (
    CycleKind,
    State,
    TradeExecution,
    TradingPosition,
    Verdict,
    decode_state,
    encode_state,
    open_store,
)
from runner.state.trade import UNFINISHED


def flagged(state: State, moment: Moment) -> dict[str, Decimal]:
    """Differences that are excused: the harness itself moved the asset behind the
    runner's back (an external transfer, a reorg), and an accounting check of the runner
    at this instant flagged it and did not correct it (a corrected difference is in the
    books now). A flagged difference nobody planted is the runner's own error: never
    excused, whatever its check said."""
    out: dict[str, Decimal] = {}
    for check in reversed(state.accounting_checks):
        if check.timestamp != moment.time:
            break
        for row in check.rows:
            if (row.verdict != Verdict.ok and row.correction_id is None and row.asset in moment.external
                    and row.asset not in out):
                out[row.asset] = row.difference
    return out


@books
def allowed(m: Moment) -> Decimal:
    """How far NAV may be off without anyone being wrong: each token's difference may be
    up to its tolerance (as the runner's last check at this instant judged it, relative
    tolerance included), so the NAV up to their sum."""
    rows: dict[str, Decimal] = {}
    for check in reversed(m.state.accounting_checks):
        if check.timestamp != m.time:
            break
        for row in check.rows:
            if row.asset != SHARES:
                rows.setdefault(row.asset, row.tolerance)
    return sum((rows.get(s, m.tolerance) for s in m.universe.tokens), Decimal(0))


@books
def ledger_units(state: State, moment: Moment) -> dict[str, int]:
    """What the ledger says the vault holds, per token, in base units (read off the state)."""
    u = moment.universe
    p = state.portfolio
    held = {s: 0 for s in u.tokens}
    held[u.reserve.symbol] = u.reserve.to_units(p.reserve.quantity + p.allocated_to_trades())
    for pos in p.open_positions.values():
        held[pos.asset] = held.get(pos.asset, 0) + u.tokens[pos.asset].to_units(pos.quantity)
    return held


@books
def ledger_shares(state: State) -> Decimal:
    total = Decimal(0)
    for bu in state.portfolio.balance_updates.values():
        if bu.shares is not None:
            total += -bu.shares if bu.cause == "redemption" else bu.shares
    return total


@invariant("chain-truth-nav", Point.tick)
def chain_truth_nav(m: Moment) -> list[Violation]:
    """After a tick the ledger's NAV (just revalued) equals the NAV the harness computes
    from chain reads alone: the vault's balances of every universe token, each sold along
    the shortest route with the pools' own formula and fees (slack: each token's value
    tolerance plus two reserve units per position for the chain's own rounding); and the
    books' P&L (paid in + realised + unrealised) and the NAV the tick's statistics
    report add up to that NAV."""
    truth = m.truth.valuation(m.block)
    u = m.universe
    ledger_nav = m.state.portfolio.nav()
    m.memory.setdefault("series", []).append(NavPoint(m.time, truth.block, truth.nav, ledger_nav))
    gaps = {a: d for a, d in flagged(m.state, m).items() if a != SHARES}
    explained = gaps.pop(u.reserve.symbol, Decimal(0))
    if gaps:  # what the flagged holdings are worth on chain, less what the ledger's would be
        held = m.truth.holdings(truth.block).units
        ledger = ledger_units(m.state, m)
        on_chain = m.truth.sale_proceeds_many({a: held[a] for a in gaps}, truth.block)
        booked = m.truth.sale_proceeds_many({a: ledger.get(a, 0) for a in gaps}, truth.block)
        explained += sum((u.reserve.from_units(on_chain[a] - booked[a]) for a in gaps), Decimal(0))
    slack = allowed(m) + 2 * u.reserve.unit * (1 + len(m.state.portfolio.open_positions))
    out = []
    gap = truth.nav - ledger_nav - explained
    if abs(gap) > slack:
        out.append(m.violation("chain-truth-nav", f"NAV {truth.nav}", f"NAV {ledger_nav}",
                               f"NAV differs by {truth.nav - ledger_nav} ({gap} not explained by a flagged check; "
                               f"slack {slack}); chain holdings valued {_plain(truth.by_asset)}"))
    # The ledger's NAV is held to the chain above; what the books say about it must add
    # up to it, so a P&L or a report booked wrong shows even when holdings are right:
    # what was paid in (every reserve-side balance update) plus realised and unrealised
    # P&L (exact in the ledger, to a unit per position's rounding), and the NAV the tick's
    # statistics report (what reports and dashboards show).
    p = m.state.portfolio
    rounding = u.reserve.unit * (1 + len(p.open_positions))
    paid_in = sum((bu.quantity for bu in p.balance_updates.values() if bu.asset == u.reserve.symbol), Decimal(0))
    realised = sum((pos.realised_pnl for pos in p.all_positions()), Decimal(0))
    unrealised = sum((p.position_value(pos) - pos.cost_basis for pos in p.open_positions.values()), Decimal(0))
    profit = ledger_nav - paid_in
    if abs(profit - realised - unrealised) > rounding:
        out.append(m.violation("chain-truth-nav", f"profit {profit} (NAV {ledger_nav} less {paid_in} paid in)",
                               f"P&L {realised + unrealised} (realised {realised}, unrealised {unrealised})",
                               f"the books' P&L is {profit - realised - unrealised} away from their NAV's profit"))
    stat = m.state.stats[-1] if m.state.stats else None
    if stat is not None and stat.timestamp == m.time and stat.kind == CycleKind.tick \
            and abs(stat.nav - ledger_nav) > rounding:
        out.append(m.violation("chain-truth-nav", f"NAV {ledger_nav}", f"reported NAV {stat.nav}",
                               f"cycle {stat.cycle}'s statistics report a NAV {stat.nav - ledger_nav} away from "
                               f"the books' (chain: {truth.nav})"))
    return out


@invariant("ledger-equals-chain", Point.tick, Point.restart, Point.stop)
def ledger_equals_chain(m: Moment) -> list[Violation]:
    """After every successful sync (a completed tick, a restart's resume), each token's
    vault balance and the share supply equal the ledger's, unless a check flagged it.
    When the runner stops itself (an aborting check) its books are judged too: the last
    saved state synced again by the runner's own sync, and only what the harness moved
    behind its back excused (the stop is the runner saying so). Otherwise a runner bug
    that trips the runner's own abort would pass as "the runner stopped"."""
    u = m.universe
    state = m.state
    if m.point == Point.stop:
        state = copy_state(m.state)
        m.spare_runner().sync_model.sync(state, m.time)
        seen = {a: Decimal(0) for a in m.external}
    else:
        seen = flagged(state, m)
    held = m.truth.holdings(m.block)
    ledger = ledger_units(state, m)
    out = []
    for symbol, token in u.tokens.items():
        diff = held.units.get(symbol, 0) - ledger.get(symbol, 0)
        if diff == 0 or symbol in seen:
            continue
        price = Decimal(1) if symbol == u.reserve.symbol else m.truth.mid_price(symbol, held.block)
        value = abs(token.from_units(diff) * price)
        if value > m.tolerance + u.reserve.unit:
            out.append(m.violation("ledger-equals-chain", f"{symbol} {token.from_units(held.units.get(symbol, 0))}",
                                   f"{symbol} {token.from_units(ledger.get(symbol, 0))}",
                                   f"{symbol} differs by {token.from_units(diff)} (worth {value}) and no check flagged it"))
    shares_chain = u.reserve.from_units(held.share_supply)
    shares_ledger = ledger_shares(state)
    if shares_chain != shares_ledger and SHARES not in seen:
        out.append(m.violation("ledger-equals-chain", f"share supply {shares_chain}", f"shares {shares_ledger}",
                               "the vault's share supply differs from the shares the ledger booked"))
    return out


@invariant("state-round-trip", Point.tick, Point.trigger, Point.restart, Point.end)
def state_round_trip(m: Moment) -> list[Violation]:
    """The state file on disk loads and equals the state in memory: what a restart would
    resume from is what the runner is running on. The hot file is checked at every
    point; the whole history (every segment) at restarts, at the end, and at doubling
    intervals in between, so the check stays cheap on long runs."""
    if m.state_path is None:
        return []
    count = m.memory["count"] = m.memory.get("count", 0) + 1
    whole = m.point in (Point.restart, Point.end) or count & (count - 1) == 0
    try:
        if whole:
            memory = encode_state(m.state)
            disk = encode_state(open_store(m.state_path).load())
        else:
            memory = _encode_live(m.state, m.trades.unfinished)
            hot = msgspec.json.decode(m.state_path.read_bytes())
            disk = _encode_live(decode_state(msgspec.json.encode(hot["state"]), str(m.state_path)))
    except Exception as exc:  # any failure to load is the finding
        return [m.violation("state-round-trip", "a loadable state file", f"{type(exc).__name__}: {exc}",
                            f"{m.state_path} does not load")]
    if disk == memory:
        return []
    at = next(i for i, (a, b) in enumerate(zip(disk, memory, strict=False)) if a != b) if len(disk) == len(memory) \
        else min(len(disk), len(memory))
    return [m.violation("state-round-trip", f"memory …{memory[max(0, at - 60):at + 60]!r}",
                        f"disk …{disk[max(0, at - 60):at + 60]!r}",
                        f"the state on disk differs from the state in memory at byte {at}"
                        + (" (whole history)" if whole else " (live part)"))]


def _unfinished(pos: TradingPosition) -> dict[int, TradeExecution]:
    return {tid: t for tid, t in pos.trades.items() if t.status in UNFINISHED}  # = is_unfinished


def _encode_live(state: State, unfinished: Callable[[TradingPosition], dict[int, TradeExecution]] = _unfinished) -> bytes:
    """The live part of a state (what the segmented store keeps in `state.json`: no
    history, open positions with their unfinished trades), encoded without copying.
    `unfinished` gives an open position's unfinished trades (the point's `TradeScan`
    for the state in memory, which has read them already)."""
    p = state.portfolio
    stash = (state.stats, state.accounting_checks, p.balance_updates, p.closed_positions)
    trades = {pid: pos.trades for pid, pos in p.open_positions.items()}
    try:
        state.stats, state.accounting_checks, p.balance_updates, p.closed_positions = [], [], {}, {}
        for pos in p.open_positions.values():
            pos.trades = unfinished(pos)
        return encode_state(state)
    finally:
        state.stats, state.accounting_checks, p.balance_updates, p.closed_positions = stash
        for pid, pos in p.open_positions.items():
            pos.trades = trades[pid]


def _plain(values: dict[str, Decimal]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}"
