"""The portfolio: reserves, positions and the external balance updates, and the only
place that moves money between them (so every movement has one implementation).

Every method runs in the exact context (runner/money.py): a balance is the exact sum of
its movements, whatever their digits (a 24-decimal token's 10,000 units are 29). The
estimates a settlement records (the executed price, slippage, a sell's pro-rata cost and
the P&L it moves) are made in the 28 digits they always were, and say so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from runner.money import books, rounded
from runner.state.balance_update import BalanceUpdate
from runner.state.position import ReservePosition, TradingPosition
from runner.state.trade import TradeExecution, TradeStatus, TradeType
from runner.state.vocabulary import ClosedBy


@books
@dataclass
class Portfolio:
    reserve: ReservePosition
    open_positions: dict[int, TradingPosition] = field(default_factory=dict)
    closed_positions: dict[int, TradingPosition] = field(default_factory=dict)
    balance_updates: dict[int, BalanceUpdate] = field(default_factory=dict)
    next_position_id: int = 1
    next_trade_id: int = 1
    next_balance_update_id: int = 1
    seen_event_keys: list[str] = field(default_factory=list)
    # chain events the sync read and deliberately did not book (a rebase of a token not
    # held): never booked later either, whatever a re-read of their block finds held then
    passed_event_keys: list[str] = field(default_factory=list)
    # buys whose capital has left the reserve but not settled: trade id -> position id.
    # Kept so NAV does not walk every trade ever made (quadratic over a long run).
    in_flight: dict[int, int] = field(default_factory=dict)

    # -- look-ups ----------------------------------------------------------
    def all_positions(self) -> Iterator[TradingPosition]:
        yield from self.open_positions.values()
        yield from self.closed_positions.values()

    def open_position_for(self, pair: str) -> TradingPosition | None:
        for p in self.open_positions.values():
            if p.pair == pair:
                return p
        return None

    def all_trades(self) -> Iterator[TradeExecution]:
        for p in self.all_positions():
            yield from p.trades.values()

    def trades_with_ids(self, ids: set[int]) -> list[TradeExecution]:
        """These trades by id: looked up per position, since walking every trade ever made
        once per cycle is quadratic over a long run."""
        found = [p.trades[i] for p in self.all_positions() for i in ids if i in p.trades]
        return sorted(found, key=lambda t: t.trade_id)

    def get_trade(self, trade_id: int) -> TradeExecution:
        for t in self.all_trades():
            if t.trade_id == trade_id:
                return t
        raise KeyError(trade_id)

    def position_of(self, trade: TradeExecution) -> TradingPosition:
        pos = self.open_positions.get(trade.position_id) or self.closed_positions.get(trade.position_id)
        if pos is None:
            raise KeyError(trade.position_id)
        return pos

    def cash(self) -> Decimal:
        return self.reserve.quantity

    def positions_value(self) -> Decimal:
        return sum((self.position_value(p) for p in self.open_positions.values()), Decimal(0))

    def position_value(self, position: TradingPosition) -> Decimal:
        return position.value_in(self.reserve.unit)

    def allocated_to_trades(self) -> Decimal:
        total = Decimal(0)
        for trade_id, position_id in self.in_flight.items():
            pos = self.open_positions.get(position_id) or self.closed_positions[position_id]
            total += pos.trades[trade_id].reserve_allocated
        return total

    def nav(self) -> Decimal:
        """Net asset value in reserve units: cash, capital in flight, positions at valuation."""
        return self.cash() + self.allocated_to_trades() + self.positions_value()

    # -- positions and trades ----------------------------------------------
    def open_position(self, pair: str, asset: str, ts: datetime) -> TradingPosition:
        pos = TradingPosition(position_id=self.next_position_id, pair=pair, asset=asset, opened_at=ts)
        self.next_position_id += 1
        self.open_positions[pos.position_id] = pos
        return pos

    def create_trade(
        self,
        position: TradingPosition,
        ts: datetime,
        quantity: Decimal,
        reserve: Decimal,
        price: Decimal,
        trade_type: TradeType = TradeType.rebalance,
        max_slippage: Decimal = Decimal("0.01"),
        route: list[str] | None = None,
    ) -> TradeExecution:
        trade = TradeExecution(
            trade_id=self.next_trade_id,
            position_id=position.position_id,
            pair=position.pair,
            opened_at=ts,
            planned_quantity=quantity,
            planned_reserve=reserve,
            planned_price=price,
            trade_type=trade_type,
            max_slippage=max_slippage,
            route=list(route or []),
        )
        self.next_trade_id += 1
        position.trades[trade.trade_id] = trade
        return trade

    def start_trade(self, trade: TradeExecution, ts: datetime) -> None:
        """Move a buy's capital out of the reserve into the trade."""
        assert trade.status == TradeStatus.planned, trade.status
        if trade.is_buy:
            self.reserve.quantity -= trade.planned_reserve
            self.in_flight[trade.trade_id] = trade.position_id
        trade.status = TradeStatus.started
        trade.started_at = ts

    def settle_success(
        self,
        trade: TradeExecution,
        ts: datetime,
        executed_quantity: Decimal,
        executed_reserve: Decimal,
        lp_fees: Decimal,
    ) -> None:
        """Book a confirmed trade: quantities, reserve, price, fees and slippage."""
        pos = self.position_of(trade)
        self.in_flight.pop(trade.trade_id, None)
        trade.status = TradeStatus.success
        trade.executed_at = ts
        trade.executed_quantity = executed_quantity
        trade.executed_reserve = executed_reserve
        trade.lp_fees_paid = lp_fees
        if executed_quantity != 0:
            with rounded():  # a price, and its distance from the planned one
                trade.executed_price = executed_reserve / abs(executed_quantity)
                if trade.planned_price:
                    trade.slippage = (
                        (trade.executed_price - trade.planned_price) / trade.planned_price
                        * (1 if trade.is_buy else -1)
                    )
        if trade.is_buy:
            self.reserve.quantity += trade.planned_reserve - executed_reserve
            with rounded():  # P&L attribution, in the digits it always had
                pos.cost_basis += executed_reserve
        else:
            self.reserve.quantity += executed_reserve
            if pos.quantity > 0:
                # A sell takes its pro-rata share of the cost basis: a division, so the
                # P&L it moves is an estimate (the books' holdings and cash stay exact).
                with rounded():
                    share = min(Decimal(1), abs(executed_quantity) / pos.quantity)
                    cost = pos.cost_basis * share
                    pos.realised_pnl += executed_reserve - cost
                    pos.cost_basis -= cost
        pos.quantity += executed_quantity
        self.reserve.last_updated_at = ts

    def settle_failure(self, trade: TradeExecution, ts: datetime, reason: str) -> None:
        """A failed trade gives its capital back and changes no holdings."""
        if trade.is_buy and trade.status in (TradeStatus.started, TradeStatus.broadcasted):
            self.reserve.quantity += trade.planned_reserve
        self.in_flight.pop(trade.trade_id, None)
        trade.status = TradeStatus.failed
        trade.failed_at = ts
        trade.failure_reason = reason

    def repair_trade(self, trade: TradeExecution, ts: datetime, reason: str) -> TradeExecution:
        """Undo an unfinished trade that never happened on chain, with a counter entry."""
        pos = self.position_of(trade)
        restored = trade.reserve_allocated
        counter = TradeExecution(
            trade_id=self.next_trade_id,
            position_id=pos.position_id,
            pair=trade.pair,
            opened_at=ts,
            planned_quantity=Decimal(0),
            planned_reserve=restored,
            planned_price=trade.planned_price,
            trade_type=TradeType.repair,
            status=TradeStatus.success,
            executed_at=ts,
            executed_quantity=Decimal(0),
            executed_reserve=restored,
            repaired_trade_id=trade.trade_id,
            notes=[f"repairs trade #{trade.trade_id}: {reason}; reserve restored {restored}"],
        )
        self.next_trade_id += 1
        pos.trades[counter.trade_id] = counter
        self.reserve.quantity += restored
        self.in_flight.pop(trade.trade_id, None)
        trade.status = TradeStatus.repaired
        trade.repaired_at = ts
        trade.repaired_by_trade_id = counter.trade_id
        trade.failure_reason = reason
        return counter

    def close_position(self, pos: TradingPosition, ts: datetime, closed_by: ClosedBy | None) -> None:
        """A position closed with nothing left realises the cost it still carries: tokens
        that left it by a balance update (a drain, a correction, a reorged buy's reversal)
        were an unrealised loss while it was open, and closing it must not drop that loss
        from the P&L (fuzz seed 8 run 117: a reversed 26.46 USDC buy, then a failed buy
        closing the empty position, left the books' P&L 26.46 above NAV less paid in)."""
        if pos.quantity == 0 and pos.cost_basis:
            pos.realised_pnl -= pos.cost_basis
            pos.cost_basis = Decimal(0)
        pos.closed_at = ts
        pos.closed_by = pos.closed_by or closed_by
        self.open_positions.pop(pos.position_id, None)
        self.closed_positions[pos.position_id] = pos

    # -- external balance changes ------------------------------------------
    def has_event(self, key: str) -> bool:
        """The event was booked, or read and passed over: either way it is done."""
        return key in self._seen() or key in self._passed()

    def pass_event(self, key: str) -> None:
        if key not in self._passed():
            self.passed_event_keys.append(key)
            self._passed().add(key)

    def _passed(self) -> set[str]:
        cache = getattr(self, "_passed_cache", None)
        if cache is None or len(cache) != len(self.passed_event_keys):
            cache = set(self.passed_event_keys)
            object.__setattr__(self, "_passed_cache", cache)
        return cache

    def _seen(self) -> set[str]:
        cache = getattr(self, "_seen_cache", None)
        if cache is None or len(cache) != len(self.seen_event_keys):
            cache = set(self.seen_event_keys)
            object.__setattr__(self, "_seen_cache", cache)
        return cache

    def add_balance_update(self, update: BalanceUpdate, position: TradingPosition | None) -> BalanceUpdate:
        """Apply an external change once; returns the stored update.

        An update of a holding (a position's, or the reserve's) must say the balance it
        leaves is the one it found plus its quantity, exactly: one added up where the
        digits round is refused before anything moves."""
        if (position is not None or update.asset == self.reserve.asset) and \
                update.new_balance != update.old_balance + update.quantity:
            raise ValueError(f"balance update {update.event_key} ({update.asset}) books {update.quantity} from "
                             f"{update.old_balance} to {update.new_balance}: not their exact sum (rounded?)")
        update.balance_update_id = self.next_balance_update_id
        self.next_balance_update_id += 1
        self.balance_updates[update.balance_update_id] = update
        self.seen_event_keys.append(update.event_key)
        self._seen().add(update.event_key)
        if position is None:
            self.reserve.quantity += update.quantity
            self.reserve.last_updated_at = update.timestamp
        else:
            update.position_id = position.position_id
            position.quantity += update.quantity
            position.balance_update_total += update.quantity
            position.balance_update_ids.append(update.balance_update_id)
        return update
