"""The runner's cycle on a real chain: positions open, adjust and close with exact books."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from harness.chains import ChainPool
from runner.accounting import chain_balances, ledger_balances
from runner.state import TradeStatus, TradeType
from tests.integration.worlds import make_bench


class TestTick:
    def test_first_tick_opens_positions_at_target_weights(self, chain_pool: ChainPool) -> None:
        """A deposit becomes reserve, and the rebalancer buys each asset with its share of NAV."""
        b = make_bench(chain_pool, parameters={"cash_buffer": "0.1"})
        b.at(0)
        b.world.deposit("alice", Decimal(10_000))
        b.tick(0)
        p = b.state.portfolio
        assert [u.cause.value for u in p.balance_updates.values()] == ["deposit"]
        trades = sorted(p.all_trades(), key=lambda t: t.trade_id)
        assert [t.status for t in trades] == [TradeStatus.success, TradeStatus.success]
        # 10_000 x 0.9 invested, equal weights: 4500 USDC each, exactly spent
        assert [t.executed_reserve for t in trades] == [Decimal("4500.000000"), Decimal("4500.000000")]
        assert p.cash() == Decimal("1000.000000")
        # fees: 0.30% of the spent reserve, in reserve units
        assert [t.lp_fees_paid for t in trades] == [Decimal("13.500000"), Decimal("13.500000")]

    def test_ledger_equals_chain_after_trades(self, chain_pool: ChainPool) -> None:
        """Every token's on-chain vault balance equals the ledger to the last unit."""
        b = make_bench(chain_pool)
        b.at(0)
        b.world.deposit("alice", Decimal(5_000))
        b.tick(0)
        on_chain = chain_balances(b.chain, b.world.universe)
        ledger = ledger_balances(b.state, b.world.universe)
        assert on_chain == ledger

    def test_price_move_adjusts_and_weight_zero_closes(self, chain_pool: ChainPool) -> None:
        """After a price shock the rebalancer sells the winner; a zero weight closes the position."""
        b = make_bench(chain_pool, parameters={"weights": {"WETH": "0.5", "stETH": "0.5"}})
        b.at(0)
        b.world.deposit("alice", Decimal(10_000))
        b.tick(0)
        b.at(1)
        b.world.price_shock(b.world.universe.pool("WETH/USDC"), Decimal("0.2"), None)
        d = b.tick(1)
        traded = {t.pair: t for t in b.state.portfolio.all_trades() if t.trade_id in d["trades"]}
        assert traded["WETH/USDC"].is_sell and traded["WETH/USDC"].status == TradeStatus.success
        assert traded["stETH/USDC"].is_buy
        b.runner.parameters["weights"] = {"WETH": "1", "stETH": "0"}
        b.tick(2)
        steth = [p for p in b.state.portfolio.all_positions() if p.pair == "stETH/USDC"][0]
        assert not steth.is_open and steth.closed_by == "strategy"
        assert steth.quantity == 0
        assert chain_balances(b.chain, b.world.universe)["stETH"] == 0


class TestFailures:
    def test_revert_is_a_failed_trade_with_reason_and_no_holdings_change(self, chain_pool: ChainPool) -> None:
        """An on-chain revert books a failed trade, returns its capital and changes no position."""
        b = make_bench(chain_pool)
        b.at(0)
        b.world.deposit("alice", Decimal(10_000))
        b.world.arm_fault("WETH/USDC", "revert", "POOL_PAUSED")
        cash_before = b.state.portfolio.cash()
        b.tick(0)
        weth = [t for t in b.state.portfolio.all_trades() if t.pair == "WETH/USDC"][0]
        assert weth.status == TradeStatus.failed
        assert weth.failure_reason == "POOL_PAUSED"
        assert weth.blockchain_transactions[-1].status == 0
        assert cash_before == 0  # nothing synced before the tick
        pos = b.state.portfolio.position_of(weth)
        assert pos.quantity == 0 and not pos.is_open and pos.closed_by == "failed_open"
        assert chain_balances(b.chain, b.world.universe)["WETH"] == 0
        # the reserve still holds the failed buy's capital
        assert ledger_balances(b.state, b.world.universe)["USDC"] == chain_balances(b.chain, b.world.universe)["USDC"]

    def test_out_of_gas_is_recognised(self, chain_pool: ChainPool) -> None:
        """A swap that burns its gas limit fails with an out-of-gas reason."""
        b = make_bench(chain_pool)
        b.at(0)
        b.world.deposit("alice", Decimal(10_000))
        b.world.arm_fault("stETH/USDC", "out_of_gas", "")
        b.tick(0)
        steth = [t for t in b.state.portfolio.all_trades() if t.pair == "stETH/USDC"][0]
        assert steth.status == TradeStatus.failed
        assert steth.failure_reason is not None and steth.failure_reason.startswith("out of gas")


class TestTriggers:
    def test_stop_loss_fires_between_ticks(self, chain_pool: ChainPool) -> None:
        """A price crash below the stop closes the position in check_position_triggers."""
        b = make_bench(chain_pool, strategy="runner.strategies.momentum",
                       parameters={"lookback": 1, "threshold": "0.01", "stop_loss": "0.1"})
        b.at(0)
        b.world.deposit("alice", Decimal(10_000))
        b.tick(0)
        b.at(0.5)
        b.world.price_shock(b.world.universe.pool("WETH/USDC"), Decimal("0.05"), None)
        b.tick(1)  # momentum: WETH rose 5% -> open with a 10% stop
        pos = b.state.portfolio.open_position_for("WETH/USDC")
        assert pos is not None and pos.stop_loss is not None
        ts = b.at(1.5)
        b.world.price_shock(b.world.universe.pool("WETH/USDC"), Decimal("-0.2"), None)
        trades = b.runner.check_position_triggers(ts, b.state, b.world.universe)
        assert [t.trade_type for t in trades] == [TradeType.stop_loss]
        assert trades[0].status == TradeStatus.success
        assert not pos.is_open and pos.closed_by == "stop_loss"
        assert chain_balances(b.chain, b.world.universe)["WETH"] == 0

    def test_no_trigger_no_trade(self, chain_pool: ChainPool) -> None:
        """Without triggers hit, a trigger check sends nothing."""
        b = make_bench(chain_pool)
        b.at(0)
        b.world.deposit("alice", Decimal(1_000))
        b.tick(0)
        sent = b.chain.sent
        assert b.runner.check_position_triggers(b.at(0.1), b.state, b.world.universe) == []
        assert b.chain.sent == sent


class TestProgressReports:
    def test_live_runs_report_progress_simulations_stay_quiet(self, chain_pool: ChainPool,
                                                              caplog: pytest.LogCaptureFixture) -> None:
        """is_progress_report_needed() decides: a live run logs each cycle, a simulation does not."""
        from runner.models.context import live_context

        quiet = make_bench(chain_pool)
        quiet.at(0)
        quiet.world.deposit("alice", Decimal(1_000))
        with caplog.at_level(logging.INFO, logger="runner.runner"):
            quiet.tick(0)
        def progress() -> list[str]:  # the cycle's progress line, not the trades it logs too
            return [r.getMessage().split(":")[0] for r in caplog.records if r.getMessage().startswith("cycle ")]

        assert quiet.runner.run_state.progress_reports == 0 and progress() == []
        live = make_bench(chain_pool)
        live.runner.execution_context = live_context
        live.at(0)
        live.world.deposit("alice", Decimal(1_000))
        with caplog.at_level(logging.INFO, logger="runner.runner"):
            live.tick(0)
        assert live.runner.run_state.progress_reports == 1
        assert progress() == ["cycle 1 at 2024-01-01T00"]
