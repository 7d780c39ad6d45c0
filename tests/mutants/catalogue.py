"""The planted runner bugs the harness is judged by: each a small, realistic mistake.

Each entry is data: where the mistake goes (`file`, relative to the repository), the
exact source text it replaces (`old`, which must occur exactly once in that file) and
what it becomes (`new`), and the scenarios that exercise it. `tests/mutants/run.py`
applies each one to a scratch copy of the repository and runs its scenarios there;
`tests/integration/test_invariants_catch.py` applies some of them in this process, to
the one function they change (`apply_in_process`).

A bug the invariants do not catch is a question about the invariants first: is the
oracle wrong, or does no scenario make the bug visible? The scenarios of
`tests/mutants/scenarios/` exist so that each bug has a world in which it shows.
"""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = "tests/mutants/scenarios"


class PatchDoesNotApply(ValueError):
    """A mutant's `old` text is not in its file exactly once (the code moved on)."""


@dataclass(frozen=True)
class Mutant:
    """One planted bug: a replacement of `old` by `new` in `file`."""

    id: str
    area: str  # sync, valuation, execution, repair, triggers, accounting, state
    description: str
    file: str
    old: str
    new: str
    scenarios: tuple[str, ...]  # repository-relative scenario files that exercise it

    def apply(self, source: str) -> str:
        """`source` with the bug planted; refuses unless `old` occurs exactly once."""
        count = source.count(self.old)
        if count != 1:
            raise PatchDoesNotApply(f"{self.id}: the text to replace occurs {count} times in {self.file}, not once")
        return source.replace(self.old, self.new)


def _s(name: str) -> str:
    return f"{SCENARIOS}/{name}.yaml"


BOOKS, ROUTE, REPAIR, TRIGGERS = _s("mutant-books"), _s("mutant-route"), _s("mutant-repair"), _s("mutant-triggers")
REORG = _s("mutant-reorg")

CATALOGUE: tuple[Mutant, ...] = (
    Mutant(
        "sync-rebooks-seen-events", "sync",
        "the sync forgets to skip events it already booked: reading a range again books a deposit twice",
        "runner/models/sync.py",
        "            if state.portfolio.has_event(key) and not again:\n                continue\n",
        "",
        (BOOKS,),
    ),
    Mutant(
        "sync-rebase-sign", "sync",
        "a rebase's change of the vault's balance is booked with its sign flipped",
        "runner/models/sync.py",
        "return int(shares * new_total // total_shares - shares * old_total // total_shares)",
        "return int(shares * old_total // total_shares - shares * new_total // total_shares)",
        (BOOKS, "scenarios/positive-rebase.yaml"),  # the second aborts on its own check: judged at the stop
    ),
    Mutant(
        "sync-skips-last-block", "sync",
        "the sync reads logs up to the block before the head, but records the head as synced",
        "runner/models/sync.py",
        "get_logs(sources, [], start, head))",
        "get_logs(sources, [], start, head - 1))",
        (BOOKS,),
    ),
    Mutant(
        "sync-shares-as-assets", "sync",
        "a deposit's minted shares are booked as the amount paid in (true only at NAV/share 1)",
        "runner/models/sync.py",
        'shares = reserve.from_units(int(ev["shares"]))',
        "shares = amount",
        (BOOKS,),
    ),
    Mutant(
        "sync-redemption-sign", "sync",
        "a redemption is booked as money arriving in the reserve, not leaving it",
        "runner/models/sync.py",
        "qty = amount if deposit else -amount",
        "qty = amount",
        (BOOKS,),
    ),
    Mutant(
        "sync-interest-as-rebase", "sync",
        "interest accrued on a yield-bearing token is booked as a rebase (right amount, wrong cause)",
        "runner/models/sync.py",
        "cause=BalanceUpdateCause.interest if interest else BalanceUpdateCause.rebase,",
        "cause=BalanceUpdateCause.rebase,",
        ("scenarios/interest-accrual.yaml",),
    ),
    Mutant(
        "sync-ignores-reorgs", "sync",
        "the sync never notices a reorg (the last synced block's hash changed, a swap booked since gone): after "
        "one it reads on from where it was",
        "runner/models/sync.py",
        "        if replaced:\n            sync.reorgs_detected += 1\n        return replaced\n",
        "        return False\n",
        (REORG,),
    ),
    Mutant(
        "repair-keeps-reorged-trades", "repair",
        "after a reorg the trades settled from the replaced blocks are never checked: the books keep swaps the chain lost",
        "runner/repair.py",
        "        if qty_fix == 0 and cash_fix == 0:\n",
        "        if True:\n",
        (REORG,),
    ),
    Mutant(
        "sync-keeps-reorged-events", "sync",
        "after a reorg the synced events of the replaced blocks are never checked: a deposit the chain lost stays booked",
        "runner/models/sync.py",
        "        if state.sync.reorgs_detected > reorgs:  # what was booked from the replaced blocks may be gone\n",
        "        if False:\n",
        ("scenarios/regressions/invariant-booked-once-s2026-r51.yaml",),
    ),
    Mutant(
        "reorg-rebooks-the-old-amount", "sync",
        "an event a reorg reversed and the new chain mined again is booked again at its first amount, not at "
        "what the new chain's log says (the same signed fulfilment paying other requests)",
        "runner/repair.py",
        "    update.cause = BalanceUpdateCause.correction\n",
        "    update.cause = BalanceUpdateCause.correction\n    update.quantity = -done[-1].quantity\n",
        ("scenarios/regressions/invariant-booked-once-s6-r87.yaml",),
    ),
    Mutant(
        "valuation-buy-side", "valuation",
        "positions are valued at the price it would cost to buy them (the ask), not what they would sell for",
        "runner/models/valuation.py",
        "quotes = self.pricing.sell_quotes([(p.asset, p.quantity) for p in positions])",
        "quotes = self.pricing.buy_quotes([(p.asset, p.quantity * mids[p.asset]) for p in positions])",
        ("scenarios/price-crash-stop-loss.yaml",),
    ),
    Mutant(
        "valuation-at-mid", "valuation",
        "positions are valued at the pools' mid price, without the fee and price impact of selling them",
        "runner/models/valuation.py",
        "pos.valuation_price = quote.price if quote.amount_out > 0 else mid",
        "pos.valuation_price = mid",
        (BOOKS,),
    ),
    Mutant(
        "nav-post-cash-only", "valuation",
        "the NAV posted to the vault for share pricing leaves the open positions out",
        "runner/runner.py",
        "nav_units = self.universe.reserve.to_units(nav)",
        "nav_units = self.universe.reserve.to_units(state.portfolio.cash())",
        (BOOKS,),
    ),
    Mutant(
        "stats-nav-is-cash", "valuation",
        "the cycle's statistics (what reports and dashboards show) record the cash as the NAV",
        "runner/runner.py",
        "cycle=cycle, timestamp=ts, nav=portfolio.nav(), cash=portfolio.cash(),",
        "cycle=cycle, timestamp=ts, nav=portfolio.cash(), cash=portfolio.cash(),",
        (BOOKS,),
    ),
    Mutant(
        "execution-lp-fee-unbooked", "execution",
        "a swap's LP fee is not charged in the books (booked as zero)",
        "runner/models/execution.py",
        "portfolio.settle_success(trade, ts, executed_quantity, executed_reserve, reserve.quantize(lp_fee))",
        "portfolio.settle_success(trade, ts, executed_quantity, executed_reserve, Decimal(0))",
        (BOOKS,),
    ),
    Mutant(
        "execution-fill-at-quote", "execution",
        "a buy whose fill differs from its quote (slippage) is booked at the quoted amount",
        "runner/models/execution.py",
        "executed_quantity = asset.from_units(result.amount_out)",
        "executed_quantity = trade.planned_quantity",
        (ROUTE,),
    ),
    Mutant(
        "execution-first-receipt", "execution",
        "confirmation pairs every trade of a batch with the first trade's receipt: one receipt settles twice",
        "runner/models/execution.py",
        "hashes = [bytes.fromhex(t.blockchain_transactions[-1].tx_hash[2:]) for t in trades]",
        "hashes = [bytes.fromhex(trades[0].blockchain_transactions[-1].tx_hash[2:]) for t in trades]",
        (BOOKS,),
    ),
    Mutant(
        "accounting-pnl-sign", "accounting",
        "a sell's realised profit adds its cost basis instead of subtracting it",
        "runner/state/portfolio.py",
        "pos.realised_pnl += executed_reserve - cost",
        "pos.realised_pnl += executed_reserve + cost",
        (BOOKS,),
    ),
    Mutant(
        "repair-mined-as-failed", "repair",
        "repair marks a trade whose swap was mined (it has a receipt) as failed",
        "runner/repair.py",
        "            execution.settle(state, trade, receipt, ts)\n",
        "            portfolio.settle_failure(trade, ts, \"no confirmation before the crash\")\n",
        (REPAIR,),
    ),
    Mutant(
        "repair-status-kept", "repair",
        "repair books a never-sent trade's counter entry but leaves the trade unfinished",
        "runner/state/portfolio.py",
        "        trade.status = TradeStatus.repaired\n        trade.repaired_at = ts\n        trade.repaired_by_trade_id",
        "        trade.repaired_at = ts\n        trade.repaired_by_trade_id",
        (REPAIR,),
    ),
    Mutant(
        "repair-trusts-own-record", "repair",
        "repair takes every trade it has a transaction hash for as still pending, without asking the node",
        "runner/repair.py",
        "if tx is not None and bytes.fromhex(tx.tx_hash[2:]) in pending:",
        "if tx is not None:",
        (REPAIR,),
    ),
    Mutant(
        "trigger-stop-direction", "triggers",
        "the stop-loss comparison is off by direction: it sells when the price is above the stop",
        "runner/triggers.py",
        "price <= position.stop_loss:",
        "price >= position.stop_loss:",
        ("scenarios/price-crash-stop-loss.yaml",),
    ),
    Mutant(
        "trigger-high-not-raised", "triggers",
        "the trailing stop's high is set once at entry and never raised by later prices",
        "runner/triggers.py",
        "        position.trailing_high = high\n",
        "        position.trailing_high = position.trailing_high or high\n",
        (TRIGGERS,),
    ),
    Mutant(
        "state-trailing-high-unsaved", "state",
        "a trigger check that moved a trailing high saves only when nothing moved (condition inverted)",
        "runner/runner.py",
        "any(p.trailing_high != highs[p.position_id] for p in candidates)",
        "all(p.trailing_high == highs[p.position_id] for p in candidates)",
        (TRIGGERS,),
    ),
    Mutant(
        "accounting-units-not-value", "accounting",
        "an accounting difference is judged in token units against a tolerance in value",
        "runner/accounting.py",
        "    value = abs(diff) * price\n",
        "    value = abs(diff)\n",
        ("scenarios/tolerance-edge.yaml",),
    ),
    Mutant(
        "accounting-correction-sign", "accounting",
        "a correction is booked with the difference's sign flipped (moves the ledger away from the chain)",
        "runner/accounting.py",
        "quantity=row.difference, old_balance=old, new_balance=old + row.difference,",
        "quantity=-row.difference, old_balance=old, new_balance=old - row.difference,",
        ("scenarios/correction-mode-airdrop.yaml",),
    ),
)

BY_ID: dict[str, Mutant] = {m.id: m for m in CATALOGUE}


def module_name(file: str) -> str:
    return file.removesuffix(".py").replace("/", ".")


def _enclosing(tree: ast.Module, line: int) -> list[ast.ClassDef | ast.FunctionDef]:
    """The chain of function definitions (outermost first, through classes) around `line`."""
    chain: list[ast.ClassDef | ast.FunctionDef] = []
    body: list[ast.stmt] = tree.body
    while True:
        for node in body:
            end = node.end_lineno or node.lineno
            if node.lineno <= line <= end and isinstance(node, ast.ClassDef | ast.FunctionDef):
                chain.append(node)
                body = node.body
                break
        else:
            return chain


def patched_function(mutant: Mutant) -> tuple[Any, str, FunctionType]:
    """The function the mutant changes, compiled with the bug: (owner, name, function).

    `owner` is the module or class it lives on. The new function runs with a copy of
    its module's globals, so it uses the module's own classes and imports.
    """
    path = REPO / mutant.file
    source = path.read_text()
    new_source = mutant.apply(source)
    line = new_source.count("\n", 0, source.index(mutant.old)) + 1
    chain = _enclosing(ast.parse(new_source), line)
    funcs = [n for n in chain if isinstance(n, ast.FunctionDef)]
    if not funcs:
        raise PatchDoesNotApply(f"{mutant.id}: the change is not inside a function; run it on a copy (run.py)")
    fn_node = funcs[0]  # the outermost function: nested functions come with it
    owners = [n for n in chain[:chain.index(fn_node)] if isinstance(n, ast.ClassDef)]
    lines = new_source.splitlines(keepends=True)
    text = textwrap.dedent("".join(lines[fn_node.lineno - 1:fn_node.end_lineno]))
    module = importlib.import_module(module_name(mutant.file))
    namespace = dict(vars(module))
    exec(compile(text, str(path), "exec"), namespace)  # noqa: S102 - the catalogue's own source
    owner: Any = module
    for cls in owners:
        owner = getattr(owner, cls.name)
    return owner, fn_node.name, namespace[fn_node.name]


def apply_in_process(mutant: Mutant, setattr_: Callable[[Any, str, Any], None]) -> None:
    """Plant the bug in this process: the changed function replaced on its owner and on
    every loaded module that imported it by name. `setattr_` is `monkeypatch.setattr`,
    so the test's teardown takes the bug out again."""
    owner, name, fn = patched_function(mutant)
    original = owner.__dict__[name]
    setattr_(owner, name, fn)
    if isinstance(owner, type):
        return
    for mod in list(sys.modules.values()):
        if mod is not owner and getattr(mod, name, None) is original:
            setattr_(mod, name, fn)


__all__ = ["BY_ID", "CATALOGUE", "Mutant", "PatchDoesNotApply", "apply_in_process", "patched_function"]
