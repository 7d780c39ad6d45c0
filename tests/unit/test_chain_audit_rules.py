"""The chain audit's rules on a scripted chain: each cause and each classification planted.

The chain here is a stub that answers `get_logs`, historical `balanceOf`/`totalSupply`
and block timestamps from a script of logs and silent balance changes, so every rule can
be made to fire (and not to) without a node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from eth_abi import encode

from harness.audit import Cause, Status, build_audit, read_books
from harness.audit.compare import explain_stop
from runner.accounting import SHARES
from runner.chain.abi import artifact
from runner.chain.backend import Call, Log, Receipt
from runner.chain.errors import NodeError
from runner.state import (
    AccountingCheck,
    AccountingRow,
    BalanceUpdate,
    BalanceUpdateCause,
    CheckKind,
    MismatchPolicy,
    State,
    Verdict,
)
from runner.universe import Token, Universe

D = Decimal
VAULT = bytes.fromhex("aa" * 20)
STRANGER = bytes.fromhex("bb" * 20)
PAIR = bytes.fromhex("cc" * 20)
INVESTOR = bytes.fromhex("dd" * 20)
ZERO = bytes(20)
USDC = Token("USDC", bytes.fromhex("01" * 20), 6)
WETH = Token("WETH", bytes.fromhex("02" * 20), 18)
STETH = Token("stETH", bytes.fromhex("03" * 20), 18, rebasing=True)
FOT = Token("FOT", bytes.fromhex("04" * 20), 18, transfer_fee=D("0.01"))
UNIVERSE = Universe(reserve=USDC, tokens={t.symbol: t for t in (USDC, WETH, STETH, FOT)}, pools={},
                    router=bytes(20), vault=VAULT, multicall=bytes(20), factory=bytes(20))
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z: block b is sealed at T0 + b

_ERC20, _VAULT, _REB = artifact("TestToken"), artifact("Vault"), artifact("RebasingToken")
BALANCE_OF, TOTAL_SUPPLY = _ERC20.fn("balanceOf").selector, _VAULT.fn("totalSupply").selector


def _topic(addr: bytes) -> bytes:
    return bytes(12) + addr


def _tx(n: int) -> bytes:
    return n.to_bytes(32, "big")


@dataclass
class ScriptedChain:
    """Logs and balance changes by block; balances follow the vault's Transfers plus `silent`."""

    head: int = 30
    logs: list[Log] = field(default_factory=list)
    silent: list[tuple[bytes, int, int]] = field(default_factory=list)  # (token or VAULT for shares, block, units)
    readable_from: int = 0
    deployed_at: int = 0  # before it, the vault and tokens have no code: calls answer nothing

    def _add(self, address: bytes, topics: tuple[bytes, ...], data: bytes, block: int, tx: int) -> None:
        index = sum(1 for lg in self.logs if lg.block_number == block)
        self.logs.append(Log(address, topics, data, block, _tx(tx), index))

    def transfer(self, token: Token | None, src: bytes, dst: bytes, units: int, block: int, tx: int) -> None:
        address = VAULT if token is None else token.address
        self._add(address, (_ERC20.event("Transfer").topic, _topic(src), _topic(dst)), encode(["uint256"], [units]),
                  block, tx)

    def deposit(self, units: int, block: int, tx: int) -> None:
        self.transfer(USDC, INVESTOR, VAULT, units, block, tx)
        self.transfer(None, ZERO, INVESTOR, units, block, tx)  # shares, 1:1
        self._add(VAULT, (_VAULT.event("Deposit").topic, _topic(INVESTOR), _topic(INVESTOR)),
                  encode(["uint256", "uint256"], [units, units]), block, tx)

    def swapped(self, token_in: Token, token_out: Token, amount_in: int, amount_out: int, block: int, tx: int) -> None:
        self._add(VAULT, (_VAULT.event("Swapped").topic,),
                  encode(["address", "address", "uint256", "uint256"],
                         [token_in.address, token_out.address, amount_in, amount_out]), block, tx)

    def rebase(self, token: Token, old: int, new: int, block: int, tx: int) -> None:
        self._add(token.address, (_REB.event("Rebase").topic,), encode(["uint256", "uint256"], [old, new]), block, tx)

    def _balance(self, address: bytes, block: int) -> int:
        units = 0
        for lg in self.logs:
            if lg.address != address or lg.block_number > block or lg.topics[0] != _ERC20.event("Transfer").topic:
                continue
            value = int.from_bytes(lg.data, "big")
            src, dst = lg.topics[1][12:], lg.topics[2][12:]
            if address == VAULT:  # the share supply: mints and burns
                units += value if src == ZERO else -value if dst == ZERO else 0
            else:
                units += value if dst == VAULT else -value if src == VAULT else 0
        return units + sum(u for a, b, u in self.silent if a == address and b <= block)

    # -- the backend surface the audit uses ---------------------------------------
    def block_number(self) -> int:
        return self.head

    def block_timestamp(self, block: int | None = None) -> int:
        return T0 + (self.head if block is None else block)

    def get_logs(self, address: bytes | Sequence[bytes], topics: Sequence[bytes | None], from_block: int,
                 to_block: int) -> list[Log]:
        wanted = {address} if isinstance(address, bytes) else set(address)
        return [lg for lg in self.logs if lg.address in wanted and from_block <= lg.block_number <= to_block]

    def call_many(self, calls: Sequence[Call], block: int | None = None) -> list[bytes]:
        b = self.head if block is None else block
        if b < self.readable_from:
            raise NodeError("eth_call", f"block {b} is not available")
        out: list[bytes] = []
        for c in calls:
            if b < self.deployed_at:
                out.append(b"")
            elif c.data[:4] == BALANCE_OF:
                out.append(encode(["uint256"], [self._balance(c.to, b)]))
            elif c.data[:4] == TOTAL_SUPPLY and c.to == VAULT:
                out.append(encode(["uint256"], [self._balance(VAULT, b)]))
            else:
                raise AssertionError(f"unexpected call {c}")
        return out

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        return [None for _ in tx_hashes]


def _state() -> State:
    return State.new("scripted", "USDC", datetime(2024, 1, 1, tzinfo=UTC), 6)


def _ts(block: int) -> datetime:
    return datetime.fromtimestamp(T0 + block, UTC)


def _book_deposit(state: State, chain: ScriptedChain, units: int, block: int, tx: int, key_index: int = 2) -> None:
    amount = USDC.from_units(units)
    state.portfolio.add_balance_update(BalanceUpdate(
        balance_update_id=0, cause=BalanceUpdateCause.deposit, asset="USDC", quantity=amount,
        old_balance=state.portfolio.reserve.quantity, new_balance=state.portfolio.reserve.quantity + amount,
        block_number=block, timestamp=_ts(block), event_key=f"0x{_tx(tx).hex()}:{key_index}",
        tx_hash=f"0x{_tx(tx).hex()}", shares=amount, reserve_value=amount,
    ), None)


def _check(state: State, block: int, asset: str, on_chain: str, ledger: str, verdict: Verdict) -> AccountingCheck:
    diff = D(on_chain) - D(ledger)
    check = AccountingCheck(
        check_id=len(state.accounting_checks) + 1, kind=CheckKind.start, cycle=1, timestamp=_ts(block),
        block_number=block, policy=MismatchPolicy.report, outcome=verdict,
        rows=[AccountingRow(asset, "0x", D(on_chain), D(ledger), diff, D(0), D("0.000001"), verdict)],
    )
    state.accounting_checks.append(check)
    return check


class TestBooks:
    def test_a_mint_to_the_vault_is_its_own_line_and_the_book_closes(self) -> None:
        chain = ScriptedChain()
        chain.transfer(WETH, ZERO, VAULT, 5 * 10**18, 12, tx=1)
        books = read_books(chain, UNIVERSE, 10, 30)  # type: ignore[arg-type]
        weth = books.books["WETH"]
        assert [(ln.cause, ln.amount, ln.block) for ln in weth.lines] == [(Cause.mint, D(5), 12)]
        assert (weth.opening, weth.inflows, weth.outflows, weth.closing, weth.read_closing) == (0, 5, 0, 5, 5)

    def test_a_balance_change_without_a_log_is_a_line_of_its_own(self) -> None:
        chain = ScriptedChain()
        chain.silent.append((WETH.address, 15, 7))
        weth = read_books(chain, UNIVERSE, 10, 30).books["WETH"]  # type: ignore[arg-type]
        assert [(ln.cause, ln.amount) for ln in weth.lines] == [(Cause.unlogged, D(7).scaleb(-18))]
        assert weth.closing == weth.read_closing == D(7).scaleb(-18)

    def test_the_opening_balance_is_read_at_the_block_before_the_run(self) -> None:
        chain = ScriptedChain()
        chain.transfer(WETH, STRANGER, VAULT, 10**18, 5, tx=1)  # history
        chain.transfer(WETH, VAULT, STRANGER, 4 * 10**17, 20, tx=2)
        weth = read_books(chain, UNIVERSE, 10, 30).books["WETH"]  # type: ignore[arg-type]
        assert [(ln.cause, ln.amount) for ln in weth.lines] == [(Cause.opening, D(1)), (Cause.transfer_out, D("-0.4"))]
        assert weth.opening == 1 and weth.closing == D("0.6") == weth.read_closing

    def test_a_fee_on_transfer_burn_right_after_the_vaults_transfer_is_the_fee(self) -> None:
        chain = ScriptedChain()
        chain.transfer(FOT, STRANGER, VAULT, 101, 11, tx=1)
        chain.transfer(FOT, VAULT, PAIR, 99, 12, tx=2)
        chain.transfer(FOT, VAULT, ZERO, 1, 12, tx=2)
        chain.transfer(USDC, PAIR, VAULT, 50, 12, tx=2)
        chain.swapped(FOT, USDC, 100, 50, 12, tx=2)
        chain.transfer(FOT, VAULT, ZERO, 1, 14, tx=3)  # a burn on its own: not a fee
        books = read_books(chain, UNIVERSE, 10, 30)  # type: ignore[arg-type]
        causes = [(ln.cause, int(ln.amount.scaleb(18))) for ln in books.books["FOT"].lines]
        assert causes == [(Cause.transfer_in, 101), (Cause.swap_out, -99), (Cause.transfer_fee, -1), (Cause.burn, -1)]
        swap = books.entries[books.swaps_by_tx["0x" + _tx(2).hex()]]
        assert swap.amounts() == {"FOT": D(-100).scaleb(-18), "USDC": D(50).scaleb(-6)}

    def test_a_rebase_is_read_from_balances_and_a_rebasing_transfer_rounds(self) -> None:
        chain = ScriptedChain()
        chain.transfer(STETH, STRANGER, VAULT, 1000, 11, tx=1)
        chain.silent.append((STETH.address, 11, -1))  # shares rounded down: 999 arrived
        chain.rebase(STETH, 10**6, 10**6 + 10**4, 15, tx=2)
        chain.silent.append((STETH.address, 15, 9))  # the vault's share of the +1% rebase
        lines = read_books(chain, UNIVERSE, 10, 30).books["stETH"].lines  # type: ignore[arg-type]
        got = [(ln.cause, int(ln.amount.scaleb(18)), ln.log_index is None) for ln in lines]
        assert got == [(Cause.transfer_in, 1000, False), (Cause.rounding, -1, True), (Cause.rebase, 9, False)]

    def test_a_node_without_history_opens_the_books_at_its_first_readable_block(self) -> None:
        chain = ScriptedChain(readable_from=17)
        chain.transfer(WETH, STRANGER, VAULT, 10**18, 12, tx=1)
        chain.transfer(WETH, STRANGER, VAULT, 10**18, 20, tx=2)
        books = read_books(chain, UNIVERSE, 10, 30)  # type: ignore[arg-type]
        assert books.first_block == 18
        assert [(ln.cause, ln.amount) for ln in books.books["WETH"].lines] == [(Cause.opening, 1), (Cause.transfer_in, 1)]
        assert "no state before block 17" in books.notes[0]


    def test_books_read_from_before_the_contracts_existed_open_at_zero(self) -> None:
        chain = ScriptedChain(deployed_at=5)
        chain.transfer(WETH, STRANGER, VAULT, 10**18, 12, tx=1)
        books = read_books(chain, UNIVERSE, 1, 30)  # type: ignore[arg-type]
        assert books.books["WETH"].opening == 0 and books.books[SHARES].opening == 0
        assert [ln.cause for ln in books.books["WETH"].lines] == [Cause.transfer_in]


class TestClassification:
    def test_an_unbooked_airdrop_is_chain_only_and_unexplained_without_a_check(self) -> None:
        chain = ScriptedChain()
        chain.transfer(WETH, ZERO, VAULT, 10**18, 12, tx=1)
        audit = build_audit(chain, UNIVERSE, _state(), 10, 30)  # type: ignore[arg-type]
        [row] = audit.rows
        assert (row.asset, row.status, row.chain_amount, row.ledger_amount) == ("WETH", Status.chain_only, 1, None)
        assert row.explained_by is None and audit.unexplained == 1

    def test_a_check_that_measured_exactly_the_airdrop_explains_it(self) -> None:
        chain = ScriptedChain()
        chain.transfer(WETH, ZERO, VAULT, 10**18, 12, tx=1)
        state = _state()
        _check(state, 14, "WETH", "1", "0", Verdict.mismatch)
        audit = build_audit(chain, UNIVERSE, state, 10, 30)  # type: ignore[arg-type]
        [row] = audit.rows
        assert row.status == Status.chain_only and "accounting check #1 (block 14)" in (row.explained_by or "")
        assert audit.unexplained == 0

    @pytest.mark.parametrize(("block", "on_chain"), [(11, "1"), (14, "0.5")], ids=["check-before-it", "other-amount"])
    def test_a_check_before_the_airdrop_or_of_another_amount_explains_nothing(self, block: int, on_chain: str) -> None:
        chain = ScriptedChain()
        chain.transfer(WETH, ZERO, VAULT, 10**18, 12, tx=1)
        state = _state()
        _check(state, block, "WETH", on_chain, "0", Verdict.mismatch)
        audit = build_audit(chain, UNIVERSE, state, 10, 30)  # type: ignore[arg-type]
        assert audit.rows[0].explained_by is None and audit.unexplained == 1

    def test_a_deposit_booked_once_matches_and_booked_twice_is_ledger_only(self) -> None:
        chain = ScriptedChain()
        chain.deposit(1_000_000, 12, tx=1)
        state = _state()
        _book_deposit(state, chain, 1_000_000, 12, tx=1)
        once = build_audit(chain, UNIVERSE, state, 10, 30)  # type: ignore[arg-type]
        assert [(r.asset, r.status) for r in once.rows] == [("USDC", Status.matched), (SHARES, Status.matched)]
        _book_deposit(state, chain, 1_000_000, 12, tx=1)
        twice = build_audit(chain, UNIVERSE, state, 10, 30)  # type: ignore[arg-type]
        extra = [r for r in twice.rows if r.flagged]
        assert [(r.asset, r.status, r.ledger_ref) for r in extra] == [
            ("USDC", Status.ledger_only, "balance update #2"), (SHARES, Status.ledger_only, "balance update #2")]
        assert all("booked twice" in r.note and r.explained_by is None for r in extra)

    def test_a_deposit_booked_from_a_log_the_chain_lacks_is_ledger_only(self) -> None:
        chain = ScriptedChain()
        chain.deposit(1_000_000, 12, tx=1)
        state = _state()
        _book_deposit(state, chain, 1_000_000, 12, tx=1, key_index=7)  # no log 7 in that transaction
        audit = build_audit(chain, UNIVERSE, state, 10, 30)  # type: ignore[arg-type]
        assert sorted(r.status.value for r in audit.rows) == ["chain-only", "chain-only", "ledger-only", "ledger-only"]

    def test_a_deposit_of_another_amount_differs(self) -> None:
        chain = ScriptedChain()
        chain.deposit(1_000_000, 12, tx=1)
        state = _state()
        _book_deposit(state, chain, 999_999, 12, tx=1)
        audit = build_audit(chain, UNIVERSE, state, 10, 30)  # type: ignore[arg-type]
        usdc = next(r for r in audit.rows if r.asset == "USDC")
        assert usdc.status == Status.amount_differs and usdc.difference == D("0.000001")

    def test_the_stopping_check_in_the_run_error_explains_what_it_measured(self) -> None:
        chain = ScriptedChain()
        chain.transfer(WETH, ZERO, VAULT, 10**18, 11, tx=1)
        chain.transfer(WETH, VAULT, ZERO, 2 * 10**17, 12, tx=2)
        audit = build_audit(chain, UNIVERSE, _state(), 10, 30)  # type: ignore[arg-type]
        # The runner stops before saving the check that stops it: only its error has the table.
        error = ("on-chain balances differ from the ledger\naccounting check #4 (start) at block 13\n"
                 f"{'asset':<14}{'on-chain':>28}{'ledger':>28}{'difference':>28}  verdict\n"
                 f"{'WETH':<14}{'0.8':>28}{'0':>28}{'0.8':>28}  mismatch [cycle 3, step check_accounts]")
        assert audit.unexplained == 2
        explained = explain_stop(audit, error)
        assert explained.unexplained == 0 and "stopped the run" in (explained.rows[1].explained_by or "")
        assert audit.unexplained == 2  # a copy: the audit given is left alone
        assert explain_stop(audit, error.replace("  0.8  mismatch", " -0.2  mismatch")).unexplained == 2
