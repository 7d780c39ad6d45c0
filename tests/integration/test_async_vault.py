"""The async (ERC-7540) vault under the runner: planted bugs are caught, and a settlement
made behind the runner's back is booked once and never made again.

Each bug is planted in this process on the one runner function it changes (monkeypatch)
and `scenarios/protocols/async-vault-pending-deposit.yaml` runs on revm with the
accounting policy set to report, so the run goes on and the invariants (which read the
vault's own views, never the books) have to find it. The numbers a violation carries
are checked against the scenario's own amounts (bob's 5,000 USDC request), never
against the invariant's arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from harness.chains import ChainPool
from harness.context import EventContext
from harness.engine import ScenarioRun
from harness.events import _note, apply
from harness.invariants import Violation
from harness.report.build import build_report
from harness.result import RunResult
from harness.scenario import parse_scenario_text
from harness.scenario.model import NoteEvent
from harness.world import World
from runner.chain.abi import artifact
from runner.chain.backend import Log
from runner.models.async_vault import AsyncVaultModel, Due
from runner.models.sync import VaultSyncModel
from runner.state import BalanceUpdate, BalanceUpdateCause, State

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios/protocols/async-vault-pending-deposit.yaml"
ALICE = Decimal(10_000)  # alice's deposit request in the scenario (0s)
BOB = Decimal(5000)  # bob's (2d6h)
ASYNC = artifact("AsyncStrategyVault")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def run(pool: ChainPool, state_dir: Path, text: str | None = None) -> RunResult:
    text = (text or SCENARIO.read_text()).replace("on_mismatch: abort", "on_mismatch: report")
    scenario = parse_scenario_text(text, str(SCENARIO))
    return ScenarioRun(scenario, backend="revm", pool=pool, state_dir=state_dir).run()


def by_invariant(result: RunResult) -> dict[str, list[Violation]]:
    out: dict[str, list[Violation]] = {}
    for v in result.violations:
        out.setdefault(v.invariant, []).append(v)
    return out


def number(text: str) -> Decimal:
    return Decimal(NUMBER.findall(text)[0])


def test_the_true_runner_passes(chain_pool: ChainPool, tmp_path: Path) -> None:
    result = run(chain_pool, tmp_path)
    assert result.violations == [] and all(e.passed for e in result.expectations)
    deposits = [bu.quantity for bu in result.state.portfolio.balance_updates.values()
                if bu.cause == BalanceUpdateCause.deposit]
    assert deposits == [ALICE, BOB]  # alice's and bob's, each once, at settlement
    # The auditor's chain books (free cash, settlements from their logs) pair every entry.
    audit = build_report(result).audit
    assert audit is not None and set(audit.counts) == {"matched", "ledger-only", "chain-only", "amount differs"}
    assert audit.counts["matched"] == len(audit.rows) and [r for r in audit.rows if r.flagged] == []
    [usdc] = [b for b in audit.books if b.asset == "USDC"]
    settled = [ln.amount for ln in usdc.lines if ln.event == "DepositSettled"]
    assert settled == [ALICE, BOB] and usdc.closing == usdc.read_closing


def test_a_pending_deposit_counted_as_nav_is_caught(chain_pool: ChainPool, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: the sync books a deposit when it is requested, not when it is settled."""
    original = VaultSyncModel._book_settlement
    request = ASYNC.event("DepositRequest")

    def books_requests(self: VaultSyncModel, state: State, log: Log, key: str, ts: object) -> BalanceUpdate | None:
        if log.topics and log.topics[0] == request.topic:
            ev = request.decode(log.topics, log.data)
            amount = self.universe.reserve.from_units(int(ev["assets"]))
            old = state.portfolio.reserve.quantity
            return state.portfolio.add_balance_update(BalanceUpdate(
                0, BalanceUpdateCause.deposit, self.universe.reserve.symbol, amount, old, old + amount,
                log.block_number, ts, key, reserve_value=amount), None)  # type: ignore[arg-type]
        return original(self, state, log, key, ts)  # type: ignore[arg-type]

    monkeypatch.setattr(VaultSyncModel, "_book_settlement", books_requests)
    result = run(chain_pool, tmp_path)
    found = by_invariant(result)
    # The books' NAV is above the chain's by every pending request: alice's at 0s (never
    # settled after: the vault mints no shares at a NAV the pending cash inflates), then bob's too.
    navs = {v.at: number(v.found) - number(v.expected) for v in found["chain-truth-nav"] if v.expected.startswith("NAV ")}
    assert navs["0s"] == ALICE and navs["3d"] == ALICE + BOB
    usdc = {v.at: number(v.found) - number(v.expected) for v in found["ledger-equals-chain"] if v.found.startswith("USDC ")}
    assert usdc["0s"] == ALICE and usdc["3d"] == ALICE + BOB
    # ...it is booked from the request, which is no settlement...
    assert any("a other event" in v.detail for v in found["booked-once"])
    # ...and the scenario's own pin on the 3d NAV fails.
    [pin] = [e for e in result.expectations if not e.passed and e.kind == "nav" and e.at.day == 4]
    assert pin.message == f"NAV {ALICE + BOB:.6f} is above 9943.185644"


def test_a_settlement_booked_twice_is_caught(chain_pool: ChainPool, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: each settlement is booked twice (the same event key, two updates)."""
    original = VaultSyncModel._book_settlement

    def twice(self: VaultSyncModel, state: State, log: Log, key: str, ts: object) -> BalanceUpdate | None:
        first = original(self, state, log, key, ts)  # type: ignore[arg-type]
        if first is not None:
            original(self, state, log, key, ts)  # type: ignore[arg-type]
        return first

    monkeypatch.setattr(VaultSyncModel, "_book_settlement", twice)
    result = run(chain_pool, tmp_path)
    found = by_invariant(result)
    assert any(v.found.startswith("booked twice") for v in found["booked-once"])
    audit = build_report(result).audit  # the auditor finds each settlement's second booking on no log
    assert audit is not None and audit.counts["matched"] < len(audit.rows)
    # alice's settlement (1d) and bob's (4d), each booked twice: the books' NAV is above
    # the chain's by alice's 10,000 from 1d, by bob's 5,000 more from 4d.
    navs = {v.at: number(v.found) - number(v.expected) for v in found["chain-truth-nav"] if v.expected.startswith("NAV ")}
    assert navs["1d"] == ALICE and navs["4d"] == ALICE + BOB
    [shares] = [v for v in found["ledger-equals-chain"] if v.at == "1d" and v.expected.startswith("share supply")]
    assert number(shares.found.removeprefix("shares ")) - number(shares.expected.removeprefix("share supply ")) == ALICE


def test_a_settlement_at_a_wrong_nav_is_caught(chain_pool: ChainPool, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: the runner settles at half the books' NAV, so bob's request gets twice
    the shares it is worth, taken from alice."""
    original = AsyncVaultModel.settle

    def at_half(self: AsyncVaultModel, due: Due, refresh: Callable[[], Decimal]) -> list[str]:
        return original(self, due, lambda: refresh() / 2)

    monkeypatch.setattr(AsyncVaultModel, "settle", at_half)
    result = run(chain_pool, tmp_path)
    [v] = by_invariant(result)["fair-shares"]  # alice's first epoch, at NAV 0, is priced alike either way
    assert v.found.startswith(f"deposit of {BOB:.6f} for ") and "to the investor" in v.detail
    shares = number(v.found.partition(" for ")[2])
    assert shares > BOB  # at a NAV per share below 1 he gets more shares than units; the true runner gives him fewer
    monkeypatch.undo()
    true = [bu.shares for bu in run(chain_pool, tmp_path / "true").state.portfolio.balance_updates.values()
            if bu.quantity == BOB]
    assert true and true[0] is not None and shares > true[0] * Decimal("1.9")


@pytest.fixture
def owner_settles_at_notes() -> Iterator[list[tuple[str, World]]]:
    """A `note` event becomes the vault owner settling the open deposit epoch at the
    chain's own NAV view (`holdingsValue`), behind the runner's back; restored after."""
    sent: list[tuple[str, World]] = []

    def settle(event: NoteEvent, ctx: EventContext) -> str:
        world = ctx.world
        vault = world.universe.vault
        nav = int(world.chain.read(vault, ASYNC.fn("holdingsValue")))
        receipt = world.chain.transact(world.accounts.admin, vault, ASYNC.fn("settleDeposit").encode(nav), 400_000)
        assert receipt.success
        sent.append(("0x" + receipt.tx_hash.hex(), world))
        return f"the owner settles the deposit epoch at {nav}"

    apply.register(NoteEvent, settle)
    try:
        yield sent
    finally:
        apply.register(NoteEvent, _note)


def test_a_settlement_behind_the_runners_back_is_booked_once(
        chain_pool: ChainPool, tmp_path: Path, owner_settles_at_notes: list[tuple[str, World]]) -> None:
    """bob's request, seen pending at 3d, is settled by the owner at 3d6h: the 4d cycle
    books that settlement from its log and settles nothing itself."""
    text = SCENARIO.read_text().replace("{at: 4d6h, note:", "{at: 3d6h, note:")
    text = text.replace("  - {at: 4d, nav: {min: 14943.185644, max: 14943.185644}}\n", "")
    result = run(chain_pool, tmp_path, text)
    assert result.violations == [] and all(e.passed for e in result.expectations)
    [(owner_tx, world)] = owner_settles_at_notes
    bob = [bu for bu in result.state.portfolio.balance_updates.values() if bu.quantity == BOB]
    assert [(bu.cause, bu.tx_hash) for bu in bob] == [(BalanceUpdateCause.deposit, owner_tx)]
    backend = world.chain.backend
    logs = backend.get_logs(world.universe.vault, [ASYNC.event("DepositSettled").topic], 1, backend.block_number())
    # alice's epoch (settled by the runner at 1d) and bob's (by the owner): none again at 4d
    assert len(logs) == 2 and "0x" + logs[1].tx_hash.hex() == owner_tx
    sender = {"0x" + lg.tx_hash.hex() for lg in logs} - {owner_tx}
    assert len(sender) == 1


CRASH_SCENARIO = REPO / "scenarios/protocols/async-vault-requests-across-crash.yaml"


@pytest.mark.parametrize("seed", range(4))
def test_random_kills_around_settlements_settle_each_epoch_once(chain_pool: ChainPool, tmp_path: Path,
                                                                seed: int) -> None:
    """The crash scenario with its fixed kills replaced by seeded random ones in every
    settling cycle (at any chain call, state write or step): each of its two deposit and
    two redemption epochs is settled and booked exactly once, whatever was killed where."""
    text = CRASH_SCENARIO.read_text()
    text = text.replace("{at: 4d, crash: statistics}", "{at: 4d, crash: {at_random: true, within: 60}}")
    text = text.replace("  - {at: 7d, crash: check_balances}\n",
                        "  - {at: 7d, crash: {at_random: true, within: 60}}\n"
                        "  - {at: 8d, crash: {at_random: true, within: 60}}\n")
    text = text.split("expect:")[0] + "expect:\n  - {at: end, accounting: {outcome: ok}}\n"
    scenario = parse_scenario_text(text, str(CRASH_SCENARIO))
    result = ScenarioRun(scenario, backend="revm", seed=seed, pool=chain_pool, state_dir=tmp_path).run()
    assert result.crashes >= 2 and result.error is None
    assert result.violations == [] and all(e.passed for e in result.expectations)
    booked = sorted((bu.cause.value, bu.quantity > 0) for bu in result.state.portfolio.balance_updates.values())
    assert booked == [("deposit", True), ("deposit", True), ("redemption", False), ("redemption", False)]
    ids = [int(n) for bu in result.state.portfolio.balance_updates.values() for n in re.findall(r"epoch (\d+)", bu.notes)]
    assert sorted(ids) == [1, 1, 2, 2]  # deposit epochs 1 and 2, redemption epochs 1 and 2
