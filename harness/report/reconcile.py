"""The closing reconciliation: final NAV explained line by line, with an exact residual.

    starting capital + deposits - withdrawals + realised PnL + unrealised PnL
      + rebases + interest + corrections - fees  ==  final NAV   (+ residual)

How each line is built, from the Portfolio methods (runner/state/portfolio.py):

* Cash moves only in start_trade (a buy's planned_reserve out), settle_success (a buy's
  planned - executed back, a sell's executed_reserve in), settle_failure and
  repair_trade (a started buy's planned_reserve back) and add_balance_update (reserve
  side). So final cash = starting capital + reserve-side balance updates - bought +
  sold - capital still in flight, where bought/sold are the executed_reserve of
  successful buys/sells (repair counter entries move capital in flight, not trades).
* NAV = cash + capital in flight of open positions + each open position's value.
* Realised PnL of a position = sold - (bought - cost basis still held); for a closed
  position all of its bought cost counts. Unrealised = value - cost basis. Their sum
  over positions is sold - bought + value, so cash and NAV cancel exactly.
* Tokens from rebases, interest and corrections have no cost basis: what of them is
  still held (pro rata to the share of the position not sold, as settle_success
  releases cost pro rata) is valued at the valuation price on its own line and taken
  out of the unrealised line. LP fees are inside executed prices (so inside cost basis
  and proceeds): they are added back to the PnL lines and shown as one "fees" line.

Everything is summed in a wide Decimal context that traps Inexact, so the residual is
exact; it is non-zero only for the named terms of `residual_terms`, each of which points
at the Portfolio method that made the figures disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from harness.report.model import (
    CrossCheck,
    Line,
    PositionBreakdown,
    Reconciliation,
    ResidualTerm,
    plain,
)
from runner.state import BalanceUpdateCause, PositionState, State, TradeStatus, TradingPosition

WIDE = 200  # digits: far more than any sum of state amounts needs
HELD_DISPLAY = Decimal("1e-18")  # the held share is shown, never used, at this precision
STARTING_CAPITAL = Decimal(0)  # State.new: an empty reserve; capital enters as deposits

DEFINITIONS = {
    "starting_capital": "Reserve cash when the ledger was started: it starts empty and records no other opening balance, so all capital enters as deposits.",
    "deposits": "Every deposit the ledger booked from the vault's Deposit events, in reserve units.",
    "withdrawals": "Every redemption the ledger booked from the vault's Withdraw events: reserve paid out to investors.",
    "realised_pnl": "Per position, what its sales fetched minus the purchase cost they released (rounded to the reserve unit; all of its purchase cost once the position is closed), with the LP fees inside those sales and that cost added back (before fees).",
    "unrealised_pnl": "Per open position, its value at the valuation price (rounded down to the reserve unit, as in NAV) minus its cost basis (rounded to the reserve unit) and minus the value of the rebase, interest and correction tokens it still holds (they have their own lines), with the LP fees still inside the cost basis added back (before fees).",
    "rebases": "Tokens that rebases added to open positions, scaled by the share of the position not sold since and valued at the position's valuation price rounded down to the reserve unit, plus rebases of the reserve itself in cash; rebase tokens already sold are inside realised PnL.",
    "interest": "Interest tokens booked to open positions (InterestAccrued events), valued as for rebases, plus interest on the reserve itself in cash; interest tokens already sold are inside realised PnL.",
    "corrections": "Corrections booked by accounting checks: those of the reserve in cash, plus those of positions still held, valued as for rebases.",
    "fees": "LP fees the ledger booked on every successful trade. They are already inside the executed prices, which is why the PnL lines are before fees; gas is paid in ETH by the asset manager outside the vault and is not in the ledger.",
}

LABELS = {
    "starting_capital": "Starting capital",
    "deposits": "Deposits",
    "withdrawals": "Withdrawals (redemptions)",
    "realised_pnl": "Realised PnL (before fees)",
    "unrealised_pnl": "Unrealised PnL (before fees)",
    "rebases": "Rebases",
    "interest": "Interest",
    "corrections": "Corrections",
    "fees": "Fees (LP)",
}

RESIDUAL_DEFINITIONS = {
    "cash_unexplained": "Reserve cash minus what its recorded movements explain (starting capital + reserve balance updates - buys paid + sales received - capital in flight): not zero when the reserve was changed outside the ledger's own bookings, or when a buy was settled that had never taken its capital out of the reserve.",
    "in_flight_on_closed": "Capital of unfinished buys in closed positions: NAV counts capital in flight only for open positions, so it drops out of NAV once its position is closed.",
    "nav_rounding": "The ledger's NAV minus the exact sum of cash, capital in flight and position values: not zero only if the ledger's 28-digit arithmetic rounded the NAV.",
    "unattributed": "Whatever the terms above do not explain (zero by the algebra of the lines; a value here is a bug of this report).",
}

RESIDUAL_LABELS = {
    "cash_unexplained": "Cash not explained by recorded movements",
    "in_flight_on_closed": "Capital in flight on closed positions",
    "nav_rounding": "NAV rounding",
    "unattributed": "Unattributed",
}

CAUSE_LINE = {
    BalanceUpdateCause.deposit: "deposits",
    BalanceUpdateCause.redemption: "withdrawals",
    BalanceUpdateCause.rebase: "rebases",
    BalanceUpdateCause.interest: "interest",
    BalanceUpdateCause.correction: "corrections",
}

LINE_SIGNS = {"withdrawals": -1, "fees": -1}


def _exact() -> Context:
    """Sums and differences that must not round: any rounding raises."""
    return Context(prec=WIDE, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])


def _rounding() -> Context:
    """Divisions and quantizations whose rounding is explicit."""
    return Context(prec=WIDE, traps=[InvalidOperation, DivisionByZero, Overflow])


def total(values: Iterable[Decimal]) -> Decimal:
    with localcontext(_exact()):
        out = Decimal(0)
        for v in values:
            out += v
        return out


def _position_state(pos: TradingPosition, is_open: bool) -> PositionState:
    """By where the ledger keeps it: a position in the closed book is closed, frozen or not."""
    return pos.state if is_open else PositionState.closed


def reconcile(state: State) -> Reconciliation:
    portfolio = state.portfolio
    reserve = portfolio.reserve
    unit = reserve.unit

    # The runner's own figures, computed by its own code in its own context.
    final_nav = portfolio.nav()
    cash = portfolio.cash()
    in_flight_open = portfolio.allocated_to_trades()
    value_of = {pid: portfolio.position_value(p) for pid, p in portfolio.open_positions.items()}

    # Balance updates: reserve side in cash, position side in tokens per cause.
    reserve_bu: dict[str, Decimal] = defaultdict(Decimal)
    position_bu: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    with localcontext(_exact()):
        for bu in portfolio.balance_updates.values():
            cause = BalanceUpdateCause(bu.cause).value
            if bu.position_id is None:
                reserve_bu[cause] += bu.quantity
            else:
                position_bu[bu.position_id][cause] += bu.quantity

    line_parts: dict[str, list[Decimal]] = defaultdict(list)
    line_parts["starting_capital"].append(STARTING_CAPITAL)
    for cause, amount in sorted(reserve_bu.items()):
        line_parts[CAUSE_LINE[BalanceUpdateCause(cause)]].append(amount)

    breakdowns: list[PositionBreakdown] = []
    cross: list[CrossCheck] = []
    bought_all: list[Decimal] = []
    sold_all: list[Decimal] = []
    in_flight_all: list[Decimal] = []
    positions = sorted(portfolio.all_positions(), key=lambda p: p.position_id)
    for pos in positions:
        is_open = pos.position_id in portfolio.open_positions
        bought, sold, buy_fees, sell_fees, sold_qty, flight = [], [], [], [], [], []
        for t in sorted(pos.trades.values(), key=lambda t: t.trade_id):
            flight.append(t.reserve_allocated)
            if t.status != TradeStatus.success or t.is_repair:
                continue
            executed = t.executed_reserve or Decimal(0)
            fee = t.lp_fees_paid or Decimal(0)
            if t.is_buy:  # mirrors settle_success: anything not a buy settles as a sale
                bought.append(executed)
                buy_fees.append(fee)
            else:
                sold.append(executed)
                sell_fees.append(fee)
                sold_qty.append(-(t.executed_quantity or Decimal(0)))
        b, s, fb, fs = total(bought), total(sold), total(buy_fees), total(sell_fees)
        bought_all.append(b)
        sold_all.append(s)
        in_flight_all.append(total(flight))
        k = pos.cost_basis
        with localcontext(_rounding()):
            # Only the split between realised and unrealised uses the cost basis (it cancels
            # in their sum), so rounding it to the reserve unit keeps both lines in units.
            k_units = k.quantize(unit, rounding=ROUND_HALF_EVEN)
        value = value_of.get(pos.position_id, Decimal(0))
        vp = pos.valuation_price
        q = pos.quantity
        sq = total(sold_qty)
        bu_qty = dict(sorted(position_bu.get(pos.position_id, {}).items()))
        bu_value: dict[str, Decimal] = {}
        with localcontext(_rounding()):
            held = (q / (q + sq)).quantize(HELD_DISPLAY) if is_open and q > 0 else Decimal(0)
            fees_unrealised = (
                (fb * k_units / b).quantize(unit, rounding=ROUND_HALF_EVEN) if is_open and b != 0 else Decimal(0)
            )
            for cause, qty in bu_qty.items():
                bu_value[cause] = (
                    (qty * q * vp / (q + sq)).quantize(unit, rounding=ROUND_DOWN)
                    if is_open and q > 0 and vp is not None
                    else Decimal(0)
                )
        with localcontext(_exact()):
            ledger_realised = s - b + k_units if is_open else s - b  # after fees
            fees_realised = fb + fs - fees_unrealised
            realised = ledger_realised + fees_realised
            unrealised = (value - k_units - total(bu_value.values()) + fees_unrealised) if is_open else Decimal(0)
            recomputed_after_fees = s - b + k
        for cause, v in bu_value.items():
            line_parts[CAUSE_LINE[BalanceUpdateCause(cause)]].append(v)
        line_parts["realised_pnl"].append(realised)
        line_parts["unrealised_pnl"].append(unrealised)
        line_parts["fees"].append(fb + fs)
        breakdowns.append(PositionBreakdown(
            position_id=pos.position_id, pair=pos.pair, asset=pos.asset,
            state=_position_state(pos, is_open), quantity=q, valuation_price=vp, value=value,
            bought=b, sold=s, cost_basis=k_units, buy_fees=fb, sell_fees=fs,
            fees_unrealised=fees_unrealised, realised_pnl=realised,
            runner_realised_pnl=pos.realised_pnl, unrealised_pnl=unrealised,
            held_fraction=held, balance_update_quantity=bu_qty, balance_update_value=bu_value,
            recomputed_quantity=pos.recomputed_quantity(),
        ))
        cross.extend(_position_cross_checks(pos, is_open, recomputed_after_fees))

    lines: list[Line] = []
    for key in DEFINITIONS:
        parts = line_parts.get(key, [])
        amount = total(parts)
        sign = LINE_SIGNS.get(key, 1)
        if sign < 0 and key != "fees":
            amount = -amount  # withdrawals are booked negative; shown as a positive outflow
        lines.append(Line(key, LABELS[key], sign, amount, DEFINITIONS[key]))

    with localcontext(_exact()):
        sum_of_lines = total(line.contribution for line in lines)
        residual = final_nav - sum_of_lines
        positions_value = total(value_of.values())
        in_flight_all_total = total(in_flight_all)
        explained_cash = (
            STARTING_CAPITAL + total(reserve_bu.values()) - total(bought_all) + total(sold_all) - in_flight_all_total
        )
        terms = {
            "cash_unexplained": cash - explained_cash,
            "in_flight_on_closed": in_flight_open - in_flight_all_total,
            "nav_rounding": final_nav - (cash + in_flight_open + positions_value),
        }
        terms["unattributed"] = residual - total(terms.values())
    residual_terms = [
        ResidualTerm(key, RESIDUAL_LABELS[key], amount, RESIDUAL_DEFINITIONS[key])
        for key, amount in terms.items()
        if key != "unattributed" or amount != 0
    ]
    return Reconciliation(
        reserve_asset=reserve.asset, lines=lines, final_nav=final_nav, sum_of_lines=sum_of_lines,
        residual=residual, residual_terms=residual_terms, positions=breakdowns, cross_checks=cross,
        notes=_notes(state), nav_cash=cash, nav_in_flight=in_flight_open, nav_positions=positions_value,
    )


def _position_cross_checks(pos: TradingPosition, is_open: bool, recomputed: Decimal) -> list[CrossCheck]:
    pid = pos.position_id
    with localcontext(_exact()):
        pnl_diff = pos.realised_pnl - recomputed
        qty_diff = pos.quantity - pos.recomputed_quantity()
        out = [
            CrossCheck(
                f"position #{pid} realised PnL (after fees)", pos.realised_pnl, recomputed, pnl_diff,
                "the realised PnL the runner booked against proceeds - bought + cost basis; differs when "
                "the runner's 28-digit arithmetic rounded a settlement, or when it settled a sale of a "
                "position it held nothing of (no PnL booked)",
            ),
            CrossCheck(
                f"position #{pid} quantity", pos.quantity, pos.recomputed_quantity(), qty_diff,
                "the quantity the runner keeps against the sum of its successful trades and balance updates",
            ),
        ]
    if not is_open and pos.cost_basis != 0:
        out.append(CrossCheck(
            f"position #{pid} cost basis left after close", pos.cost_basis, Decimal(0), pos.cost_basis,
            "a closed position should have released all its cost; the realised line counts all of it",
        ))
    return out


def _notes(state: State) -> list[str]:
    """Facts an auditor needs next to the identity (it is the ledger's NAV, not the chain's)."""
    notes = []
    if state.accounting_checks:
        last = state.accounting_checks[-1]
        open_rows = [r for r in last.rows if r.verdict == "mismatch" and r.correction_id is None]
        if open_rows:
            rows = ", ".join(f"{r.asset} on-chain - ledger = {plain(r.difference)}" for r in open_rows)
            notes.append(
                f"Final NAV is the ledger's: the last accounting check (#{last.check_id}, {last.kind}, "
                f"block {last.block_number}) left these differences uncorrected (action {last.action}): {rows}."
            )
    unfinished = sorted(
        (t for t in state.portfolio.all_trades() if t.is_unfinished), key=lambda t: t.trade_id
    )
    if unfinished:
        ids = ", ".join(f"#{t.trade_id} ({t.status.value})" for t in unfinished)
        notes.append(f"Trades still unfinished at the end (their capital is in flight): {ids}.")
    return notes
