"""StrategyRunner: the cycle engine of a live trading bot.

`StrategyRunner` keeps the seed API (tick, sync_portfolio, revalue_state, on_clock,
check_position_triggers, repair_state, check_accounts, ...); `ChainStrategyRunner` is the
concrete runner that trades on the fixture AMM through the strategy vault.

Each step of `tick()` is a named method, and `step_hook(name)` is called as each one
completes: the harness uses it to kill the runner between any two steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any

from runner.accounting import (
    AccountingPolicy,
    apply_corrections,
    chain_balances,
    format_table,
    ledger_balances,
    run_check,
)
from runner.chain.client import ChainClient
from runner.chain.errors import TransactionRejected
from runner.chain.wallet import Wallet
from runner.errors import (
    BalanceCheckFailed,
    NegativeNav,
    PreflightCheckFailed,
    StrategyError,
    UnexpectedAccountingCorrectionIssue,
)
from runner.models.approval import ApprovalModel
from runner.models.async_vault import AsyncVaultModel
from runner.models.context import ExecutionContext
from runner.models.execution import ExecutionModel
from runner.models.pricing import PricingModel
from runner.models.redemptions import RedemptionQueueModel
from runner.models.routing import RoutingModel, RoutingState
from runner.models.sync import REORG_WINDOW, VaultSyncModel
from runner.models.valuation import ValuationModel
from runner.repair import RepairReport, recheck_after_reorg, repair_unfinished
from runner.run_state import RunState
from runner.state import (
    AccountingCheck,
    CheckAction,
    CheckKind,
    ClosedBy,
    CycleKind,
    CycleStatistics,
    MismatchPolicy,
    State,
    StateStore,
    TradeExecution,
    TradeStatus,
    TradeType,
    Verdict,
)
from runner.steps import Step
from runner.strategy.position_manager import PositionManager
from runner.strategy_runner import StrategyRunner
from runner.timing import TimedTask, no_timing
from runner.triggers import fired_trigger
from runner.universe import Universe

StepHook = Callable[[Step], None]
logger = logging.getLogger(__name__)


class ChainStrategyRunner(StrategyRunner):
    """Trades a strategy module on the fixture AMM through the strategy vault."""

    def __init__(
        self,
        *,
        chain: ChainClient,
        universe: Universe,
        strategy: ModuleType,
        parameters: dict[str, Any],
        asset_manager: Wallet,
        accounting_policy: AccountingPolicy | None = None,
        step_hook: StepHook | None = None,
        timed_task_context_manager: TimedTask = no_timing,
        approval_model: ApprovalModel | None = None,
        execution_context: ExecutionContext | None = None,
        accounting_checks: bool = True,
        run_state: RunState | None = None,
        post_nav: bool = True,
        routing_model_factory: Callable[[Universe], RoutingModel] = RoutingModel,
    ) -> None:
        routing = routing_model_factory(universe)
        super().__init__(
            timed_task_context_manager=timed_task_context_manager,
            execution_model=ExecutionModel(chain, asset_manager, universe, routing),
            approval_model=approval_model or ApprovalModel(),
            valuation_model_factory=ValuationModel,
            sync_model=VaultSyncModel(chain, universe),
            pricing_model_factory=lambda u, r: PricingModel(chain, u, r),
            execution_context=execution_context or ExecutionContext(),
            routing_model=routing,
            run_state=run_state,
            accounting_checks=accounting_checks,
        )
        self.chain = chain
        self.universe = universe
        self.strategy = strategy
        self.parameters = dict(parameters)
        self.asset_manager = asset_manager
        self.accounting_policy = accounting_policy or AccountingPolicy()
        self.step_hook = step_hook
        self.post_nav = post_nav
        self.redemptions = RedemptionQueueModel(chain, universe, asset_manager)
        self.async_vault = AsyncVaultModel(chain, universe, asset_manager)
        self.needs_repair = True  # the first tick after a (re)start repairs first
        self.pending_trade_ids: set[int] = set()  # broadcast, no receipt yet (this process)
        self._posted_nav: int | None = None
        self._nav_tx: bytes | None = None
        self._nonce_fresh = False  # the wallet's nonce was read from the node this cycle
        self._cycle_pricing: PricingModel | None = None

    # -- the step seam ---------------------------------------------------------
    def _step(self, name: Step) -> None:
        logger.debug("step %s reached", name)
        if self.step_hook is not None:
            self.step_hook(name)

    # -- steps -------------------------------------------------------------------
    def pretick_check(self, ts: datetime, universe: Universe) -> None:
        """Pools exist and have positive prices; otherwise no trading this cycle."""
        pricing = self._cycle_pricing or self.pricing_model_factory(universe, self.routing_model)
        for pair, pool in universe.pools.items():
            price = pricing.pool_price(pool)
            if price <= 0:
                raise PreflightCheckFailed(f"pool {pair} has no price (empty reserves)", step="pretick_check")

    def sync_portfolio(self, strategy_cycle_or_trigger_check_ts: datetime, universe: Universe, state: State,
                       debug_details: dict[str, Any], end_block: int | None = None,
                       long_short_metrics_latest: object | None = None) -> None:
        reorgs, synced = state.sync.reorgs_detected, state.sync.last_block
        updates = self.sync_model.sync(state, strategy_cycle_or_trigger_check_ts, end_block)
        if state.sync.reorgs_detected > reorgs:  # blocks we booked trades from may be gone
            updates += recheck_after_reorg(state, self.execution_model, strategy_cycle_or_trigger_check_ts,
                                           max(1, synced - REORG_WINDOW))
        debug_details["balance_updates"] = [u.balance_update_id for u in updates]

    def setup_routing(self, universe: Universe) -> tuple[RoutingState, PricingModel, ValuationModel]:
        routing_state = self.routing_model.setup()
        pricing = self.pricing_model_factory(universe, self.routing_model)
        self._cycle_pricing = pricing  # the cycle's reserves, read once, shared by its steps
        return routing_state, pricing, self.valuation_model_factory(pricing)

    def revalue_state(self, ts: datetime, state: State, valuation_model: ValuationModel) -> None:
        valuation_model.revalue(list(state.portfolio.open_positions.values()), ts)

    def on_clock(self, clock: datetime, universe: Universe, pricing_model: PricingModel, state: State,
                 debug_details: dict[str, Any]) -> list[TradeExecution]:
        try:
            trades = self.strategy.decide_trades(clock, universe, state, pricing_model, self.parameters)
        except Exception as exc:
            raise StrategyError(f"decide_trades raised {type(exc).__name__}: {exc}", cycle=state.cycle + 1,
                                step="on_clock") from exc
        return list(trades)

    def collect_post_execution_data(self, execution_context: ExecutionContext, pricing_model: PricingModel,
                                    trades: list[TradeExecution]) -> None:
        """Prices after execution, for every trade (failed ones most of all)."""
        assets = sorted({self.universe.pool(t.pair).base.symbol for t in trades})
        if not assets:
            return
        prices = pricing_model.mid_prices(assets)
        for t in trades:
            t.notes.append(f"price after execution {prices[self.universe.pool(t.pair).base.symbol]}")

    def check_accounts(self, universe: Universe, state: State, report_only: bool = False,
                       end_block: int | None = None, cycle: int | None = None,
                       kind: CheckKind = CheckKind.start, ts: datetime | None = None) -> AccountingCheck:
        """Compare on-chain balances with the ledger and apply the accounting policy."""
        ts = ts or state.last_updated_at or state.created_at
        check = run_check(self.chain, universe, state, self.accounting_policy, kind, ts, end_block,
                          self._check_prices(universe))
        policy = MismatchPolicy.report if report_only else self.accounting_policy.on_mismatch
        if check.outcome == Verdict.mismatch:
            logger.warning("accounting check #%d (%s) at block %d: %s differ from the ledger; policy %s", check.check_id, check.kind, check.block_number, ", ".join(r.asset for r in check.mismatches()), policy)
            if policy == MismatchPolicy.abort:
                check.action = CheckAction.aborted
                raise UnexpectedAccountingCorrectionIssue(
                    "on-chain balances differ from the ledger", format_table(check),
                    cycle=cycle, step="check_accounts",
                )
            if policy == MismatchPolicy.correct:
                apply_corrections(state, universe, check, ts)
            else:
                check.action = CheckAction.reported
        state.accounting_checks.append(check)
        return check

    def check_balances_post_execution(self, universe: Universe, state: State, cycle: int,
                                      ts: datetime | None = None) -> AccountingCheck:
        """After trades and the save: balances must equal what the ledger says.

        Run every cycle, not only after trades: it reads the head block, so a balance
        that changed after the sync (mid-cycle, or an unexplained transfer) is caught in
        the cycle it happened, never absorbed. The accounting policy decides the outcome.
        """
        ts = ts or state.last_updated_at or state.created_at
        check = run_check(self.chain, universe, state, self.accounting_policy, CheckKind.post_execution, ts,
                          prices=self._check_prices(universe))
        state.accounting_checks.append(check)
        bad = [r.asset for r in check.rows if r.verdict == Verdict.mismatch]
        if not bad:
            return check
        policy = self.accounting_policy.on_mismatch
        logger.warning("accounting check #%d (post execution) at block %d: %s differ from the ledger; policy %s", check.check_id, check.block_number, ", ".join(bad), self.accounting_policy.on_mismatch)
        if policy == MismatchPolicy.abort and self.execution_context.is_live:
            check.action = CheckAction.aborted
            raise BalanceCheckFailed("on-chain balances differ from the ledger after execution", bad,
                                     format_table(check), cycle=cycle, step="check_balances")
        if policy == MismatchPolicy.correct:
            apply_corrections(state, universe, check, ts)
        else:
            check.action = CheckAction.reported
        return check

    def _check_prices(self, universe: Universe) -> dict[str, Decimal]:
        """Mid prices to value an accounting difference by, read at the head (one batched
        read); a token without a route to the reserve has none and is judged in units."""
        pricing = self.pricing_model_factory(universe, self.routing_model)
        priced = [a for a in universe.tradeable_assets() if self.routing_model.has_route(a)]
        return pricing.mid_prices(priced) if priced else {}

    def repair_state(self, state: State, ts: datetime | None = None) -> list[TradeExecution]:
        """Resolve unfinished trades from the chain; returns the trades it fixed."""
        report = self.repair(state, ts or state.last_updated_at or state.created_at)
        return report.fixed

    def resume(self, state: State, ts: datetime) -> list[TradeExecution]:
        """Take over after a restart, before anything else: repair what the dead process
        left unfinished, sync what happened meanwhile, and check the books.

        Returns the trades repair fixed. The next tick then starts from a state that
        agrees with the chain (or says where it does not), exactly as a live restart.
        """
        report = self.repair(state, ts, unfreeze=False)
        self.needs_repair = False
        self.sync_portfolio(ts, self.universe, state, {})
        if self.accounting_checks:
            self.check_accounts(self.universe, state, end_block=state.sync.last_block,
                                cycle=state.cycle, kind=CheckKind.restart, ts=ts)
        report.unfrozen = self.unfreeze_matching(state)  # on the books the sync and the check left
        return report.fixed

    def repair(self, state: State, ts: datetime, unfreeze: bool = True) -> RepairReport:
        """Resolve the unfinished trades from the chain (runner/repair.py), then, unless
        `unfreeze` is False, unfreeze the frozen positions the chain confirms.

        A caller that syncs right after (a restart's resume, a tick) passes False and
        unfreezes after its sync and accounting check (`unfreeze_matching`): judged
        before the sync, a position whose token rebased (or paid interest) since the
        last save differs from the chain only by an event not booked yet, stays frozen,
        and the next repair, on the synced books, unfreezes it: repair would not be
        idempotent (seed 1 run 78, invariant repair-idempotent)."""
        backend = self.chain.backend
        # Both from the node, never from this process's memory: a restarted process has
        # none, and a node that still holds a transaction may mine it any block now.
        confirmed = backend.get_nonce(self.asset_manager.address, confirmed=True)
        hashes = [bytes.fromhex(t.blockchain_transactions[-1].tx_hash[2:]) for t in state.portfolio.all_trades()
                  if t.is_unfinished and t.blockchain_transactions]
        if state.pending_fulfilment is not None:  # the redemption queue's payment, left unanswered
            hashes.append(bytes.fromhex(state.pending_fulfilment.tx_hash[2:]))
        pending = backend.pending_among(hashes) if hashes else set()
        report = repair_unfinished(state, self.execution_model, ts, confirmed, pending)
        report.fulfilment = self.redemptions.resolve(state, confirmed, pending)
        logger.log(logging.INFO if report.fixed or report.unresolved else logging.DEBUG,
                   "repair at confirmed nonce %d: %d settled, %d repaired, %d still pending", confirmed,
                   len(report.settled), len(report.repaired), len(report.unresolved))
        # Still in the mempool: the next tick waits for them instead of trading on top.
        self.pending_trade_ids = {t.trade_id for t in report.unresolved}
        if unfreeze:
            report.unfrozen = self.unfreeze_matching(state)
        self._resync_nonce(self.asset_manager)
        return report

    def unfreeze_matching(self, state: State) -> list[int]:
        """Unfreeze every frozen open position whose holdings the chain confirms (the
        vault's balance of its token at the head equals the ledger's); returns their ids.
        Meant for books synced to that head: what it leaves frozen, a repair right after
        leaves frozen too."""
        on_chain = chain_balances(self.chain, self.universe)  # read even with none frozen: one kill point, always
        ledger = ledger_balances(state, self.universe)
        unfrozen = []
        for pos in list(state.portfolio.open_positions.values()):
            if pos.is_frozen and on_chain.get(pos.asset) == ledger.get(pos.asset):
                logger.info("position #%d %s unfrozen: the chain holds what the ledger says (%s %s)",
                            pos.position_id, pos.pair, ledger.get(pos.asset), pos.asset)
                pos.frozen_at = None
                pos.frozen_reason = None
                unfrozen.append(pos.position_id)
        return unfrozen

    def _resync_nonce(self, wallet: Wallet) -> None:
        """Take the wallet's next nonce from the node, never from this process's memory.

        The node's count is the truth: the key may have been used outside the runner (an
        operator sending a transaction with it), a reorg or a dropped transaction can move
        it back. A nonce cached from the last cycle is stale after any of them, and every
        transaction signed with it is refused as "nonce too low". So: before signing,
        every time (the incident `scenarios/incidents/asset-manager-key-used-outside.yaml`).
        """
        self.chain.sync_nonce(wallet)

    # -- execution ----------------------------------------------------------------
    def execute_trades(self, ts: datetime, state: State, trades: list[TradeExecution],
                       store: StateStore | None, pricing: PricingModel) -> None:
        portfolio = state.portfolio
        ordered = sorted(trades, key=lambda t: (0 if t.is_sell else 1, t.trade_id))
        wallet = self.execution_model.wallet
        used = wallet.nonce  # what this process has used; a refusal never sends us below it
        if ordered:
            # The node's count is the truth (a reorg or a dropped tx can move it back, the
            # key may have been used elsewhere): read it before signing, every time.
            self._resync_nonce(wallet)
            self._nonce_fresh = True
        unsendable = []
        for trade in ordered:
            portfolio.start_trade(trade, ts)
            reason = self.execution_model.prepare(trade, ts)
            if reason is not None:
                portfolio.settle_failure(trade, ts, reason)
                unsendable.append(trade)
        ordered = [t for t in ordered if t not in unsendable]
        if store is not None and ordered:
            state.clean_shutdown = False
            store.save(state)  # write-ahead: hashes are on disk before the node sees them
        if ordered:
            # Dying here leaves signed, saved, never-sent transactions: repair's job.
            self._step(Step.broadcast)
        ordered = self._broadcast_all(ts, state, ordered, store, used)
        if ordered:
            # Dying here leaves broadcast transactions without a settlement.
            self._step(Step.confirm)
        receipts = self.execution_model.confirm_all(ordered)
        for trade, receipt in zip(ordered, receipts, strict=True):
            if receipt is None:
                trade.notes.append("no receipt yet: left broadcasted for the next cycle to resolve")
                self.pending_trade_ids.add(trade.trade_id)
                continue
            self.execution_model.settle(state, trade, receipt, ts, pricing)
            self._after_settlement(state, trade, ts)

    def _broadcast_all(self, ts: datetime, state: State, trades: list[TradeExecution], store: StateStore | None,
                       used: int) -> list[TradeExecution]:
        """Broadcast in nonce order; returns the trades the node took.

        "nonce too low" means the nonce read before signing was stale (a lagging replica,
        the key used outside the runner): the unsent trades are signed again from
        max(what this process used, a fresh read, the refused nonce + 1), saved (the
        write-ahead rule holds for the new hashes too) and sent, once. Any other refusal
        fails its trade with the node's words and re-signs the rest from the nonce it
        left unused, so no later transaction waits on a gap.
        """
        execution, wallet = self.execution_model, self.execution_model.wallet
        sent: list[TradeExecution] = []
        queue = list(trades)
        resigned = False
        while queue:
            trade = queue[0]
            try:
                execution.broadcast(trade, ts)
            except TransactionRejected as exc:
                refused = trade.blockchain_transactions[-1].nonce
                logger.warning("trade #%d %s: broadcast refused by the node: %s", trade.trade_id, trade.pair, exc.message)
                trade.blockchain_transactions[-1].revert_reason = f"refused by the node: {exc.message}"
                if "nonce too low" in exc.message.lower() and not resigned:
                    resigned = True
                    self._resync_nonce(wallet)
                    wallet.nonce = max(used, wallet.nonce, refused + 1)
                    trade.notes.append(f"nonce {refused} refused as too low; signed again with {wallet.nonce}")
                else:
                    queue.pop(0)
                    execution.discard(trade)
                    state.portfolio.settle_failure(trade, ts, f"refused by the node: {exc.message}")
                    wallet.nonce = refused
                for t in queue:
                    execution.resign(t)
                if store is not None:
                    store.save(state)  # the new hashes on disk before the node sees them
                continue
            trade.status = TradeStatus.broadcasted
            trade.broadcasted_at = ts
            sent.append(queue.pop(0))
        return sent

    def _after_settlement(self, state: State, trade: TradeExecution, ts: datetime) -> None:
        portfolio = state.portfolio
        pos = portfolio.position_of(trade)
        logger.log(logging.WARNING if trade.status == TradeStatus.failed else logging.INFO, "trade #%d %s %s %s: %s", trade.trade_id, trade.side, trade.pair, trade.status, trade.failure_reason or f"{trade.executed_quantity} at {trade.executed_price}")
        if trade.status == TradeStatus.failed:
            if (trade.is_sell or pos.quantity > 0) and trade.blockchain_transactions:
                pos.frozen_at = ts
                pos.frozen_reason = f"trade #{trade.trade_id} failed: {trade.failure_reason}"
            elif not pos.unfinished_trades():
                portfolio.close_position(pos, ts, ClosedBy.failed_open)
            return
        if trade.status == TradeStatus.success and trade.is_sell and pos.quantity <= 0:
            closed_by = ClosedBy.strategy if trade.trade_type == TradeType.rebalance else ClosedBy(trade.trade_type)
            portfolio.close_position(pos, ts, closed_by)

    # -- the cycle ----------------------------------------------------------------
    def tick(self, strategy_cycle_timestamp: datetime, universe: Universe, state: State,
             debug_details: dict[str, Any], cycle_duration: timedelta | None = None,
             cycle: int | None = None, store: StateStore | None = None,
             long_short_metrics_latest: object | None = None) -> dict[str, Any]:
        ts = strategy_cycle_timestamp
        cycle = cycle if cycle is not None else state.cycle + 1
        self._nonce_fresh = False
        timed = self.timed_task_context_manager
        debug_details.update({"cycle": cycle, "timestamp": ts})
        state.last_updated_at = ts

        restarted = self.needs_repair and state.cycle > 0
        waiting: list[TradeExecution] = []
        repaired = self.needs_repair or bool(self.pending_trade_ids) or state.pending_fulfilment is not None
        if repaired:
            # After a restart, and whenever an earlier broadcast is still unconfirmed:
            # settle what the chain has answered, repair what it never will. Frozen
            # positions are judged after the sync and the check (see `repair`).
            with timed("repair_state"):
                report = self.repair(state, ts, unfreeze=False)
            debug_details["repaired_trades"] = [t.trade_id for t in report.fixed]
            waiting = report.unresolved
            self.pending_trade_ids = {t.trade_id for t in waiting}
            self.needs_repair = False
        # The async vault's requests a sync of ours has already seen: this cycle settles them.
        due = self.async_vault.due(state.sync.last_block) if self.async_vault.active else None
        with timed("sync_portfolio"):
            self.sync_portfolio(ts, universe, state, debug_details)
        self._step(Step.sync_portfolio)

        start_check = None
        if self.accounting_checks:
            # After the sync, so deposits and rebases are explained before comparing:
            # what is left is an unexplained change (an airdrop, a drain, a lost trade).
            kind = CheckKind.restart if restarted else CheckKind.start
            with timed("check_accounts"):
                start_check = self.check_accounts(universe, state, end_block=state.sync.last_block,
                                                  cycle=cycle, kind=kind, ts=ts)
        if repaired:
            self.unfreeze_matching(state)
        self._step(Step.check_accounts)

        with timed("setup_routing"):
            _routing_state, pricing, valuation = self.setup_routing(universe)
        self._step(Step.setup_routing)

        with timed("revalue_state"):
            self.revalue_state(ts, state, valuation)
        self._step(Step.revalue_state)
        self.report_after_sync_and_revaluation(ts, universe, state, debug_details)

        owed = self.redemptions.owed() if self.redemptions.active else Decimal(0)
        if self.async_vault.active:  # requested redemptions, at the books' NAV (models/async_vault.py)
            owed = self.async_vault.owed(state.portfolio.nav())
        paying = state.pending_fulfilment  # the queue's payment, still in the mempool
        if waiting or paying is not None:
            # Deciding now could buy what an unconfirmed trade already bought, or sell for
            # a payment already on its way: wait.
            trades: list[TradeExecution] = []
            status = "; ".join([*([f"waiting for {len(waiting)} unconfirmed trade(s)"] if waiting else []),
                                *([f"waiting for the unconfirmed redemption payment {paying.tx_hash}"]
                                  if paying is not None else [])])
        elif owed > 0:
            # Queued redemptions come first: pro-rata sells for what the cash lacks (none
            # when it covers them), and no strategy, which could spend the cash they are owed.
            trades = self.redemptions.liquidity_sells(ts, state, pricing, owed)
            which = "requested" if self.async_vault.active else "queued"
            status = f"raising cash for {which} redemptions ({owed} owed)" if trades else \
                f"paying {which} redemptions ({owed} owed)"
        else:
            trades, status = self._decide(ts, universe, pricing, state, debug_details)

        approved, vetoed = self.approval_model.approve(state, trades)
        for trade in vetoed:
            state.portfolio.settle_failure(trade, ts, trade.vetoed_by or "vetoed")
        self._step(Step.approve)
        self.report_before_execution(ts, universe, state, approved, debug_details)

        if start_check is not None:
            # The balances the check just read are the vault's: sells never exceed them.
            self.execution_model.known_balances = {
                r.asset: universe.tokens[r.asset].to_units(r.on_chain) for r in start_check.rows if r.asset in universe.tokens
            }
        with timed("execute_trades"):
            self.execute_trades(ts, state, approved, store, pricing)
        self.execution_model.known_balances = None
        if approved:
            # prices moved with our trades: one fresh read for the post-trade figures
            _, after, after_valuation = self.setup_routing(universe)
            self.collect_post_execution_data(self.execution_context, after, approved)
            self.revalue_state(ts, state, after_valuation)
        self.report_after_execution(ts, universe, state, debug_details)
        state.cycle = cycle
        state.clean_shutdown = True
        self._step(Step.save_state)  # dying here loses the cycle's last save, not the write-ahead one
        if store is not None:
            with timed("save_state"):
                store.save(state)

        moved = start_check is None or self.chain.block_number() != start_check.block_number
        # While a trade is unconfirmed the chain may hold its effect before the ledger does
        # (a receipt a lagging node has not served yet): the next cycle's repair and check
        # settle and compare it; comparing now would call a confirmed trade a mismatch.
        unconfirmed = bool(self.pending_trade_ids) or state.pending_fulfilment is not None
        if self.accounting_checks and self.execution_context.is_live and (approved or moved) and not unconfirmed:
            with timed("check_balances"):
                self.check_balances_post_execution(universe, state, cycle, ts)
        self._step(Step.check_balances)

        if owed > 0 and self.redemptions.active and not unconfirmed:
            # Pay the queue now and book its Withdraw events in this cycle (see models/redemptions.py).
            if self.redemptions.fulfil(state, ts, store) is not None:
                self.sync_portfolio(ts, universe, state, debug_details)
                self.revalue_state(ts, state, self.setup_routing(universe)[2])
            else:  # blocks stalled: the next cycle resolves it before anything else
                assert state.pending_fulfilment is not None
                status = f"{status}; redemption payment {state.pending_fulfilment.tx_hash} unconfirmed"
        if due is not None and (due.deposit_id is not None or due.redeem_id is not None) and not unconfirmed:
            # Settle the requests seen before this cycle, at the books' NAV, and book them now.
            def refresh() -> Decimal:
                self.sync_portfolio(ts, universe, state, debug_details)
                self.revalue_state(ts, state, self.setup_routing(universe)[2])
                return state.portfolio.nav()

            settled = self.async_vault.settle(due, refresh)
            if settled:
                refresh()
                status = f"{status}; {'; '.join(settled)}"
        self._record_statistics(state, ts, cycle, approved, CycleKind.tick, status)
        if self.post_nav and self.universe.vault_kind.posts_nav:  # a real vault computes its NAV on chain
            self._post_nav(state)
        self.report_strategy_thinking(ts, cycle, universe, state, approved, debug_details)
        self.refresh_visualisations(state, universe)
        self.run_state.latest_cycle = cycle
        self.run_state.latest_cycle_at = ts
        if self.is_progress_report_needed():
            self.run_state.progress_reports += 1
            logger.info("cycle %d at %s: NAV %s, %d trade(s), %s", cycle, ts.isoformat(),
                        state.portfolio.nav(), len(approved), status)
        self._step(Step.statistics)
        if store is not None:
            store.save(state)
        debug_details["trades"] = [t.trade_id for t in approved]
        debug_details["status"] = status
        return debug_details

    def _decide(self, ts: datetime, universe: Universe, pricing: PricingModel, state: State,
                debug_details: dict[str, Any]) -> tuple[list[TradeExecution], str]:
        """Pre-tick check, then the strategy; a failed check means no trades this cycle."""
        timed = self.timed_task_context_manager
        try:
            with timed("pretick_check"):
                self.pretick_check(ts, universe)
            self._step(Step.pretick_check)
        except PreflightCheckFailed as exc:
            self.run_state.exceptions.append(str(exc))
            logger.warning("pre-tick check failed, no trades this cycle: %s", exc.message)
            return [], f"preflight failed: {exc.message}"
        with timed("on_clock"):
            trades = self.on_clock(ts, universe, pricing, state, debug_details)
        self._step(Step.on_clock)
        return trades, "ok"

    def _record_statistics(self, state: State, ts: datetime, cycle: int, trades: list[TradeExecution],
                           kind: CycleKind, status: str) -> None:
        portfolio = state.portfolio
        state.stats.append(CycleStatistics(
            cycle=cycle, timestamp=ts, nav=portfolio.nav(), cash=portfolio.cash(),
            positions_value=portfolio.positions_value(), open_positions=len(portfolio.open_positions),
            trades_succeeded=sum(1 for t in trades if t.status == TradeStatus.success),
            trades_failed=sum(1 for t in trades if t.status == TradeStatus.failed),
            kind=kind, status=status,
        ))

    def _post_nav(self, state: State) -> None:
        """Publish NAV to the vault so deposits and redemptions are priced fairly."""
        from runner.chain.abi import artifact

        nav = state.portfolio.nav()
        if nav < 0:
            raise NegativeNav(f"the books' NAV is negative ({nav} {self.universe.reserve.symbol}): "
                              "not posted; the ledger needs an audit", cycle=state.cycle)
        nav_units = self.universe.reserve.to_units(nav)
        if nav_units == self._posted_nav:
            return  # unchanged: a transaction per idle cycle buys nothing
        self._check_nav_post()
        fn = artifact("Vault").fn("postNav")
        if not self._nonce_fresh:
            self._resync_nonce(self.asset_manager)  # the key may have been used elsewhere
        # Not waited for: it rides in the next block (the next deposit's or the next
        # cycle's), ahead of anything sent after it, and its receipt is checked then.
        try:
            self._nav_tx = self.chain.send(self.asset_manager, self.universe.vault, fn.encode(nav_units), 100_000)
        except TransactionRejected as exc:
            self.run_state.exceptions.append(f"postNav refused by the node: {exc.message}")
            return  # posted at the next cycle that can
        self._posted_nav = nav_units

    def _check_nav_post(self) -> None:
        if self._nav_tx is None:
            return
        receipt = self.chain.backend.get_receipt(self._nav_tx)
        if receipt is None:
            return  # still pending (blocks stalled): checked again at the next post
        if not receipt.success:
            self.run_state.exceptions.append(f"postNav failed: {receipt.revert_reason}")
        self._nav_tx = None

    # -- between ticks ------------------------------------------------------------
    def check_position_triggers(self, clock: datetime, state: State, universe: Universe,
                                stop_loss_pricing_model: PricingModel | None = None,
                                long_short_metrics_latest: object | None = None,
                                store: StateStore | None = None) -> list[TradeExecution]:
        """Stop loss / take profit / trailing stop on open positions only.

        Prices are read first (cheap, every check); only when a rule fires does the check
        take a tick's safety before trading: sync (a rebase or a redemption changes what
        there is to sell), a report-only accounting check, the approval model, and the
        write-ahead save before the broadcast. A moved trailing high is saved too: it is
        state a restart must resume from.
        """
        candidates = [p for p in state.portfolio.open_positions.values()
                      if p.has_triggers() and not p.is_frozen and p.quantity > 0]
        if not candidates:
            return []
        pricing = stop_loss_pricing_model or self.pricing_model_factory(universe, self.routing_model)
        mids = pricing.mid_prices([p.asset for p in candidates])
        highs = {p.position_id: p.trailing_high for p in candidates}
        firing = [(pos, fired, mids[pos.asset]) for pos in candidates
                  if (fired := fired_trigger(pos, mids[pos.asset])) is not None]
        if not firing:
            if store is not None and any(p.trailing_high != highs[p.position_id] for p in candidates):
                store.save(state)
            return []
        state.last_updated_at = clock
        self.sync_portfolio(clock, universe, state, {})
        self._step(Step.sync_portfolio)
        if self.accounting_checks:
            self.check_accounts(universe, state, report_only=True, end_block=state.sync.last_block,
                                cycle=state.cycle, kind=CheckKind.trigger, ts=clock)
        self._step(Step.check_accounts)
        pm = PositionManager(clock, universe, state, pricing)
        trades: list[TradeExecution] = []
        for pos, fired, price in firing:
            if not pos.is_open or pos.quantity <= 0:
                continue  # the sync found nothing left to sell
            trade = pm.sell(pos.pair, pos.quantity, fired)
            trade.max_slippage = Decimal("0.05")
            trade.notes.append(f"{fired.value} fired at {price}")
            pos.closed_by = ClosedBy(fired)
            trades.append(trade)
        approved, vetoed = self.approval_model.approve(state, trades)
        for trade in vetoed:
            state.portfolio.settle_failure(trade, clock, trade.vetoed_by or "vetoed")
        self._step(Step.approve)
        self.execute_trades(clock, state, approved, store, pricing)
        for pos, _fired, _price in firing:
            if pos.is_open and pos.closed_by and not pos.unfinished_trades() and pos.quantity > 0:
                pos.closed_by = None  # the trigger's sell failed: the position stays open
        self._record_statistics(state, clock, state.cycle, trades, CycleKind.trigger, "ok")
        if store is not None:
            store.save(state)
        return trades
