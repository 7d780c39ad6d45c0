"""Exit triggers fire as declared: the harness watches prices and judges each check.

Just before every trigger check the harness reads each armed position's price itself
(mid price from the pools' reserves along the route to the reserve) and follows the
position's declared rule: stop loss, take profit, and a trailing stop whose high it
tracks from the prices it observed at the checks where the position was armed. After
the check, every position whose rule was crossed must have been closed by a trigger
trade, or have a trigger trade that records why it could not; and no trigger may fire
where no rule was crossed.
"""

from __future__ import annotations

from decimal import Decimal

from harness.invariants.core import Moment, Point, Violation, invariant
from runner.money import rounded
from runner.state import TradeType

TRIGGERS = (TradeType.stop_loss, TradeType.take_profit, TradeType.trailing_stop)


@invariant("triggers-fire", Point.before_trigger, Point.trigger)
def triggers_fire(m: Moment) -> list[Violation]:
    """Whenever a trigger check reads a price that crosses an open position's stop loss,
    take profit or trailing stop, that check closes the position or records why not."""
    highs: dict[int, Decimal] = m.memory.setdefault("highs", {})
    if m.point == Point.before_trigger:
        crossed: dict[int, str] = {}
        watched: dict[int, str] = {}  # every armed position's price and rules, for the report
        for pos in m.state.portfolio.open_positions.values():
            if not pos.has_triggers() or pos.is_frozen or pos.quantity <= 0:
                continue
            price = m.truth.mid_price(pos.asset, m.block)
            rule = None
            if pos.stop_loss is not None and price <= pos.stop_loss:
                rule = f"stop loss {pos.stop_loss} at price {price}"
            elif pos.take_profit is not None and price >= pos.take_profit:
                rule = f"take profit {pos.take_profit} at price {price}"
            if pos.trailing_stop_pct is not None:
                high = highs[pos.position_id] = max(highs.get(pos.position_id, price), price)
                with rounded():  # the runner's level, as it works it out (runner/triggers.py)
                    level = high * (1 - pos.trailing_stop_pct)
                if rule is None and price <= level:
                    rule = f"trailing stop {pos.trailing_stop_pct} below high {high} at price {price}"
            if rule is not None:
                crossed[pos.position_id] = rule
            watched[pos.position_id] = f"price {price} (stop loss {pos.stop_loss}, take profit {pos.take_profit})"
        m.memory["crossed"] = crossed
        m.memory["watched"] = watched
        return []
    crossed = m.memory.pop("crossed", {})
    watched = m.memory.pop("watched", {})
    fired = {t.position_id: t for t in m.state.portfolio.all_trades()
             if t.trade_type in TRIGGERS and t.opened_at == m.time}
    out = []
    for pid, rule in sorted(crossed.items()):
        if pid not in fired:
            out.append(m.violation("triggers-fire", f"position #{pid} closed ({rule})", f"no trigger trade for position #{pid}",
                                   f"position #{pid}'s {rule.split(' at ')[0]} was crossed and the check did nothing"))
    for pid, t in sorted(fired.items()):
        if pid not in crossed:
            seen = watched.get(pid, "no armed rule")
            out.append(m.violation("triggers-fire", f"no rule crossed at {seen}", f"{t.trade_type.value} trade #{t.trade_id}",
                                   f"position #{pid} was closed by a trigger the harness's prices did not cross"))
    return out
