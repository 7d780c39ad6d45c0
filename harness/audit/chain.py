"""The vault's books from the chain alone: logs and historical balance reads, no ledger.

    read_books(backend, universe, first_block, last_block) -> ChainBooks

Every movement of every universe token into or out of the vault over the run's blocks,
and of the vault's own shares, is one `ChainLine`, with its cause read off the logs of
its transaction:

* a token `Transfer` to or from the vault: a deposit or redemption when the vault's
  `Deposit`/`Withdraw` is in the same transaction, a swap leg when its `Swapped` is, a
  fee-on-transfer token's fee when it is the burn right after the vault's own transfer,
  else a mint (from address 0), a burn (to 0) or a plain transfer in or out: money that
  moved behind the runner's back;
* the vault's own `Transfer` from or to address 0: shares minted or burned;
* a rebasing token's `Rebase` or `InterestAccrued`: no Transfer moves the balance, so it
  is read with `balanceOf` at the block before and at the block of the event (historical
  `eth_call`), less the block's Transfers. A rebasing token's transfers move shares
  rounded down, so the balance of every block in which the vault's balance of it moved
  is read the same way, and a difference from its Transfer logs is a rounding line.

The opening balance is read at the block before the run, the closing one at its last
block; opening plus every line must equal the closing read, else the gap is its own
line ("balance change without a log"), so the books always close.

On the async vault (ERC-7540) the reserve's book is the vault's `freeCash()`: a request,
a cancellation or a claim moves the requesters' assets (pending, or reserved for them)
and is left out; a settlement (`DepositSettled`, `RedeemSettled`) is the deposit or
redemption, its cash line taken from the log (no Transfer moves free cash).

Lines are grouped into `ChainEntry`s, the unit the ledger is compared with: a deposit or
redemption (its log's key), a swap (its transaction), a rebase or interest accrual (its
log's key), any other movement (its own key).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from harness.audit.model import AssetBook, Cause, ChainEvent, ChainLine
from runner.accounting import SHARES
from runner.chain.abi import artifact
from runner.chain.backend import Backend, Call, Log
from runner.chain.errors import NodeError, NodeTimeout
from runner.money import books
from runner.universe import Token, Universe, VaultKind

ZERO = "0x" + "00" * 20

_ERC20 = artifact("TestToken")
_VAULT = artifact("Vault")
_REBASING = artifact("RebasingToken")
_TRANSFER = _ERC20.event("Transfer")
_DEPOSIT, _WITHDRAW, _SWAPPED = _VAULT.event("Deposit"), _VAULT.event("Withdraw"), _VAULT.event("Swapped")
_REBASE, _INTEREST = _REBASING.event("Rebase"), _REBASING.event("InterestAccrued")
_BALANCE_OF, _TOTAL_SUPPLY = _ERC20.fn("balanceOf"), _VAULT.fn("totalSupply")
# The async vault (ERC-7540): its books are its free cash, which only settlements and the
# strategy's own moves change; requests, cancellations and claims move assets that are
# the requesters' (pending deposits, reserved redemptions) in and out of the vault.
_ASYNC = artifact("AsyncStrategyVault")
_FREE_CASH = _ASYNC.fn("freeCash")
_DEPOSIT_SETTLED, _REDEEM_SETTLED = _ASYNC.event("DepositSettled"), _ASYNC.event("RedeemSettled")
_REQUESTERS = frozenset(_ASYNC.event(n).topic for n in (
    "DepositRequest", "RedeemRequest", "DepositRequestCancelled", "RedeemRequestCancelled", "Deposit", "Withdraw"))
# Logs that move no balance: named, counted, and otherwise left alone.
_QUIET = {e.topic: e.name for e in (
    _ERC20.event("Approval"), _ERC20.event("TransferFeeSet"), _ERC20.event("TransfersBlocked"),
    _REBASING.event("TransferShares"), _VAULT.event("NavPosted"),
)}


def _s(d: Decimal) -> str:
    """An amount as an auditor writes it: positional, never 1E-18."""
    return "0" if d == 0 else format(d, "f")


def hex0(b: bytes) -> str:
    return "0x" + b.hex()


def log_key(tx_hash: bytes | str, log_index: int) -> str:
    """The ledger's event key of a log: `0x<tx hash>:<log index>`."""
    tx = tx_hash if isinstance(tx_hash, str) else hex0(tx_hash)
    return f"{tx}:{log_index}"


@dataclass
class ChainEntry:
    """Chain lines that belong together: what one ledger entry should account for."""

    key: str
    kind: str  # opening | deposit | redemption | swap | rebase | interest | external | rounding | unlogged
    block: int
    tx_hash: str
    log_index: int | None
    lines: list[ChainLine] = field(default_factory=list)
    detail: dict[str, str] = field(default_factory=dict)  # the log's own figures, for notes

    def amounts(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for line in self.lines:
            out[line.asset] += line.amount
        return dict(out)


@dataclass
class ChainBooks:
    """Everything read off the chain: per-asset books and the entries the lines form."""

    vault: str
    first_block: int
    last_block: int
    books: dict[str, AssetBook]
    entries: dict[str, ChainEntry]
    swaps_by_tx: dict[str, str]  # tx hash -> entry key
    events: dict[str, ChainEntry]  # Deposit/Withdraw/Rebase/InterestAccrued log key -> its entry
    chain_events: list[ChainEvent]
    ignored: dict[str, int]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Tx:
    deposit: Log | None = None
    withdraw: Log | None = None
    swapped: Log | None = None
    requesters: bool = False  # an async vault's request, cancellation or claim: the requesters' assets


class _Reader:
    def __init__(self, backend: Backend, universe: Universe, first_block: int, last_block: int) -> None:
        self.backend = backend
        self.u = universe
        self.first = first_block
        self.last = last_block
        self.vault = hex0(universe.vault)
        self.asynchronous = universe.vault_kind == VaultKind.async_
        self.requesters: set[bytes] = set()  # async vault: transactions that move only requesters' assets
        self.by_address = {t.address: t for t in universe.tokens.values()}
        self.lines: list[ChainLine] = []
        self.times: dict[int, int] = {}
        self.ignored: dict[str, int] = defaultdict(int)
        self.notes: list[str] = []

    # -- reads -----------------------------------------------------------------
    def balances(self, block: int, tokens: list[Token], supply: bool) -> tuple[dict[str, int], int]:
        calls = [Call(self.u.vault, _FREE_CASH.encode()) if self.asynchronous and t is self.u.reserve
                 else Call(t.address, _BALANCE_OF.encode(self.u.vault)) for t in tokens]
        if supply:
            calls.append(Call(self.u.vault, _TOTAL_SUPPLY.encode()))
        raw = self.backend.call_many(calls, block) if calls else []
        # An empty answer: no contract there yet at that block (books read from block 1 on a node).
        units = {t.symbol: int(_BALANCE_OF.decode_one(r)) if r else 0 for t, r in zip(tokens, raw, strict=False)}
        return units, (int(_TOTAL_SUPPLY.decode_one(raw[-1])) if raw[-1] else 0) if supply else 0

    def timestamp(self, block: int) -> datetime:
        if block not in self.times:
            self.times[block] = self.backend.block_timestamp(block)
        return datetime.fromtimestamp(self.times[block], UTC)

    # -- lines -----------------------------------------------------------------
    def add(self, asset: str, block: int, tx: str, log_index: int | None, cause: Cause, amount: Decimal,
            event: str, counterparty: str = "", note: str = "") -> ChainLine:
        line = ChainLine(len(self.lines) + 1, asset, block, self.timestamp(block) if block >= self.first else None,
                         tx, log_index, cause, amount, event, counterparty, note)
        self.lines.append(line)
        return line

    def readable(self, block: int) -> bool:
        try:
            self.balances(block, [], True)
        except NodeTimeout:
            raise
        except NodeError:
            return False
        return True

    def open_at_readable_block(self) -> None:
        """A node restarted from a state dump keeps no state of the blocks before it: the
        books then open at the first block it can still read (found by bisection)."""
        if self.readable(self.first - 1):
            return
        lo, hi = self.first, self.last
        if not self.readable(hi):
            raise NodeError("eth_call", f"the node cannot read the vault at block {hi}")
        while lo < hi:
            mid = (lo + hi) // 2
            if self.readable(mid):
                hi = mid
            else:
                lo = mid + 1
        self.notes.append(f"the node keeps no state before block {lo} (restarted from a state dump): the books "
                          f"open at block {lo} instead of {self.first - 1}, and what the ledger booked up to then is "
                          "compared with the opening balance")
        self.first = lo + 1

    def read(self) -> ChainBooks:
        u = self.u
        tokens = list(u.tokens.values())
        self.open_at_readable_block()
        logs: list[Log] = []
        if self.last >= self.first:
            logs = sorted(self.backend.get_logs([u.vault, *(t.address for t in tokens)], [], self.first, self.last),
                          key=lambda lg: (lg.block_number, lg.log_index))
        txs: dict[bytes, _Tx] = defaultdict(_Tx)
        # the async vault's deposits and redemptions are its epochs' settlements
        deposit, withdraw = (_DEPOSIT_SETTLED, _REDEEM_SETTLED) if self.asynchronous else (_DEPOSIT, _WITHDRAW)
        for lg in logs:
            if lg.address != u.vault or not lg.topics:
                continue
            topic = lg.topics[0]
            if topic == deposit.topic:
                txs[lg.tx_hash].deposit = lg
            elif topic == withdraw.topic:
                txs[lg.tx_hash].withdraw = lg
            elif topic == _SWAPPED.topic:
                txs[lg.tx_hash].swapped = lg
            elif self.asynchronous and topic in _REQUESTERS:
                txs[lg.tx_hash].requesters = True

        self.requesters = {h for h, t in txs.items() if t.requesters and t.deposit is None and t.withdraw is None}
        opening, opening_supply = self.balances(self.first - 1, tokens, True)
        closing, closing_supply = self.balances(self.last, tokens, True)
        entries: dict[str, ChainEntry] = {}
        events: dict[str, ChainEntry] = {}
        swaps_by_tx: dict[str, str] = {}
        reserve = u.reserve
        for t in tokens:
            if opening[t.symbol]:
                self._opening(entries, t.symbol, t.from_units(opening[t.symbol]), "balanceOf")
        if opening_supply:
            self._opening(entries, SHARES, reserve.from_units(opening_supply), "totalSupply")

        def entry_for(lg: Log, default_kind: str) -> ChainEntry:
            ctx = txs.get(lg.tx_hash, _Tx())
            tx = hex0(lg.tx_hash)
            if ctx.swapped is not None:
                key, kind, src = tx, "swap", ctx.swapped
            elif ctx.deposit is not None:
                key, kind, src = log_key(tx, ctx.deposit.log_index), "deposit", ctx.deposit
            elif ctx.withdraw is not None:
                key, kind, src = log_key(tx, ctx.withdraw.log_index), "redemption", ctx.withdraw
            else:
                key, kind, src = log_key(tx, lg.log_index), default_kind, lg
            if key not in entries:
                entries[key] = ChainEntry(key, kind, src.block_number, tx, src.log_index)
                if kind == "swap":
                    swaps_by_tx[tx] = key
                    entries[key].detail = self._swap_detail(src)
                elif kind in ("deposit", "redemption"):
                    events[key] = entries[key]
                    if self.asynchronous:
                        self._settlement(entries[key], src, kind)
                    else:
                        ev = (_DEPOSIT if kind == "deposit" else _WITHDRAW).decode(src.topics, src.data)
                        entries[key].detail = {"assets": _s(reserve.from_units(int(ev["assets"]))),
                                               "shares": _s(reserve.from_units(int(ev["shares"]))),
                                               "owner": str(ev["owner"])}
            return entries[key]

        rebase_logs: dict[tuple[str, int], list[Log]] = defaultdict(list)
        moved: dict[str, set[int]] = defaultdict(set)  # rebasing token -> blocks its vault balance moved
        previous: Log | None = None
        for lg in logs:
            topic = lg.topics[0] if lg.topics else b""
            tx = hex0(lg.tx_hash)
            if topic in _QUIET:
                self.ignored[_QUIET[topic]] += 1
            elif lg.address == u.vault:
                if topic == _TRANSFER.topic:
                    self._share_transfer(lg, entry_for)
                elif self.asynchronous and topic in (_DEPOSIT_SETTLED.topic, _REDEEM_SETTLED.topic):
                    entry_for(lg, "external")  # its cash line (no Transfer moves free cash)
                elif topic not in (_DEPOSIT.topic, _WITHDRAW.topic, _SWAPPED.topic):
                    self.ignored["other vault log"] += 1
            elif topic == _TRANSFER.topic:
                token = self.by_address[lg.address]
                if self._token_transfer(token, lg, previous, entry_for) and token.rebasing:
                    moved[token.symbol].add(lg.block_number)
            elif topic in (_REBASE.topic, _INTEREST.topic):
                token = self.by_address[lg.address]
                rebase_logs[(token.symbol, lg.block_number)].append(lg)
                moved[token.symbol].add(lg.block_number)
                kind = "rebase" if topic == _REBASE.topic else "interest"
                key = log_key(tx, lg.log_index)
                ev = (_REBASE if kind == "rebase" else _INTEREST).decode(lg.topics, lg.data)
                events[key] = entries[key] = ChainEntry(
                    key, kind, lg.block_number, tx, lg.log_index,
                    detail={"token": token.symbol, "old_total": str(ev["oldTotalPooled"]),
                            "new_total": str(ev["newTotalPooled"])})
            else:
                self.ignored["other token log"] += 1
            previous = lg

        for t in tokens:
            if t.rebasing and moved[t.symbol]:
                self._measure(t, sorted(moved[t.symbol]), rebase_logs, entries)

        books: dict[str, AssetBook] = {}
        for t in tokens:
            books[t.symbol] = self._book(t.symbol, hex0(t.address), t.decimals, t.from_units(opening[t.symbol]),
                                         t.from_units(closing[t.symbol]), entries)
        books[SHARES] = self._book(SHARES, self.vault, reserve.decimals, reserve.from_units(opening_supply),
                                   reserve.from_units(closing_supply), entries)
        chain_events = [ChainEvent(e.kind, e.detail.get("token", reserve.symbol), e.block, e.tx_hash, e.log_index)
                        for e in events.values()]
        chain_events += [ChainEvent("external", ln.asset, ln.block, ln.tx_hash, ln.log_index)
                         for e in entries.values() if e.kind == "external" for ln in e.lines]
        chain_events.sort(key=lambda e: (e.block, e.log_index if e.log_index is not None else 1 << 30))
        return ChainBooks(self.vault, self.first, self.last, books, entries, swaps_by_tx, events, chain_events,
                          dict(sorted(self.ignored.items())), self.notes)

    def _settlement(self, entry: ChainEntry, lg: Log, kind: str) -> None:
        """An async vault's settlement: no Transfer moves its free cash, the log says how
        much the epoch's pending deposits added to it (or its redemptions took out of it)."""
        deposit = kind == "deposit"
        ev = (_DEPOSIT_SETTLED if deposit else _REDEEM_SETTLED).decode(lg.topics, lg.data)
        reserve = self.u.reserve
        assets, shares = reserve.from_units(int(ev["assets"])), reserve.from_units(int(ev["shares"]))
        entry.detail = {"assets": _s(assets), "shares": _s(shares), "owner": ""}
        name = "DepositSettled" if deposit else "RedeemSettled"
        note = (f"epoch {int(ev['requestId'])} settled at NAV {_s(reserve.from_units(int(ev['totalAssets'])))}: "
                + ("its pending deposits become free cash" if deposit else "its assets are reserved for the claims"))
        entry.lines.append(self.add(reserve.symbol, lg.block_number, hex0(lg.tx_hash), lg.log_index,
                                    Cause.deposit if deposit else Cause.redemption, assets if deposit else -assets,
                                    name, note=note))

    def _opening(self, entries: dict[str, ChainEntry], asset: str, amount: Decimal, read: str) -> None:
        key = f"opening:{asset}"
        entries[key] = ChainEntry(key, "opening", self.first - 1, "", None)
        entries[key].lines.append(self.add(asset, self.first - 1, "", None, Cause.opening, amount, read,
                                           note=f"{read} at block {self.first - 1}, the block before the run"))

    def _swap_detail(self, lg: Log) -> dict[str, str]:
        ev = _SWAPPED.decode(lg.topics, lg.data)
        t_in = self.by_address.get(bytes.fromhex(str(ev["tokenIn"])[2:]))
        t_out = self.by_address.get(bytes.fromhex(str(ev["tokenOut"])[2:]))
        out = {"token_in": t_in.symbol if t_in else str(ev["tokenIn"]),
               "token_out": t_out.symbol if t_out else str(ev["tokenOut"])}
        out["amount_in"] = _s(t_in.from_units(int(ev["amountIn"]))) if t_in else str(ev["amountIn"])
        out["amount_out"] = _s(t_out.from_units(int(ev["amountOut"]))) if t_out else str(ev["amountOut"])
        return out

    def _share_transfer(self, lg: Log, entry_for: Callable[[Log, str], ChainEntry]) -> None:
        ev = _TRANSFER.decode(lg.topics, lg.data)
        src, dst, units = str(ev["from"]).lower(), str(ev["to"]).lower(), int(ev["value"])
        amount = self.u.reserve.from_units(units)
        if src == ZERO and dst != ZERO:
            cause, signed, who = Cause.shares_minted, amount, dst
        elif dst == ZERO and src != ZERO:
            cause, signed, who = Cause.shares_burned, -amount, src
        else:
            self.ignored["share transfer between holders"] += 1
            return
        entry = entry_for(lg, "external")
        entry.lines.append(self.add(SHARES, lg.block_number, hex0(lg.tx_hash), lg.log_index, cause, signed,
                                    "Transfer (vault shares)", who))

    def _token_transfer(self, token: Token, lg: Log, previous: Log | None,
                        entry_for: Callable[[Log, str], ChainEntry]) -> bool:
        ev = _TRANSFER.decode(lg.topics, lg.data)
        src, dst, units = str(ev["from"]).lower(), str(ev["to"]).lower(), int(ev["value"])
        if self.vault not in (src, dst):
            return False
        if src == dst:
            self.ignored["transfer from the vault to itself"] += 1
            return False
        if token is self.u.reserve and lg.tx_hash in self.requesters:
            self.ignored["requesters' assets (pending or reserved)"] += 1
            return False
        amount = token.from_units(units)
        entry = entry_for(lg, "external")
        kind = entry.kind
        if dst == self.vault:
            signed, who = amount, src
            cause = {"deposit": Cause.deposit, "swap": Cause.swap_in}.get(kind) or (
                Cause.mint if src == ZERO else Cause.transfer_in)
        else:
            signed, who = -amount, dst
            if dst == ZERO and token.transfer_fee and self._follows_own_transfer(lg, previous):
                cause = Cause.transfer_fee
            else:
                cause = {"redemption": Cause.redemption, "swap": Cause.swap_out}.get(kind) or (
                    Cause.burn if dst == ZERO else Cause.transfer_out)
        note = ""
        if cause == Cause.transfer_fee:
            note = f"{token.symbol} burns {_s(token.transfer_fee * 100)}% of every transfer, taken from the sender"
        entry.lines.append(self.add(token.symbol, lg.block_number, hex0(lg.tx_hash), lg.log_index, cause, signed,
                                    "Transfer", who if who != ZERO else "", note))
        return True

    def _follows_own_transfer(self, lg: Log, previous: Log | None) -> bool:
        """A fee-on-transfer token burns its fee right after the transfer it taxes."""
        if previous is None or previous.tx_hash != lg.tx_hash or previous.address != lg.address:
            return False
        if previous.log_index != lg.log_index - 1 or not previous.topics or previous.topics[0] != _TRANSFER.topic:
            return False
        ev = _TRANSFER.decode(previous.topics, previous.data)
        return str(ev["from"]).lower() == self.vault and str(ev["to"]).lower() != ZERO

    def _measure(self, token: Token, blocks: list[int], rebase_logs: dict[tuple[str, int], list[Log]],
                 entries: dict[str, ChainEntry]) -> None:
        """A rebasing token: the balance change of each block it moved, read before and after."""
        reads: dict[int, int] = {}
        for b in sorted({x for blk in blocks for x in (blk - 1, blk)}):
            reads[b] = self.balances(b, [token], False)[0][token.symbol]
        for b in blocks:
            delta = reads[b] - reads[b - 1]
            logged = [ln for ln in self.lines if ln.asset == token.symbol and ln.block == b and ln.log_index is not None]
            rest = delta - sum(int(ln.amount.scaleb(token.decimals)) for ln in logged)
            moves = rebase_logs.get((token.symbol, b), [])
            if moves:
                lg = moves[-1]
                kind = "interest" if lg.topics[0] == _INTEREST.topic else "rebase"
                entry = entries[log_key(lg.tx_hash, lg.log_index)]
                note = (f"balanceOf {_s(token.from_units(reads[b - 1]))} at block {b - 1}, "
                        f"{_s(token.from_units(reads[b]))} at block {b}")
                if logged:
                    note += f", less the block's Transfers {_s(token.from_units(delta - rest))}"
                if len(moves) > 1:
                    note += f" ({len(moves)} {kind} logs in the block: booked on the last)"
                if rest:
                    entry.lines.append(self.add(token.symbol, b, entry.tx_hash, entry.log_index,
                                                Cause.interest if kind == "interest" else Cause.rebase,
                                                token.from_units(rest), "balanceOf before and after", note=note))
                continue
            if rest == 0:
                continue
            last = logged[-1]  # the block's last transfer of the token: its transaction gets the rounding
            entry = next(e for e in entries.values() if any(ln.line_id == last.line_id for ln in e.lines))
            entry.lines.append(self.add(
                token.symbol, b, last.tx_hash, None, Cause.rounding, token.from_units(rest), "balanceOf before and after",
                note=f"{token.symbol} moves shares rounded down: the balance changed by {_s(token.from_units(delta))}, "
                     f"its Transfer logs say {_s(token.from_units(delta - rest))}"))

    def _book(self, asset: str, address: str, decimals: int, opening: Decimal, read_closing: Decimal,
              entries: dict[str, ChainEntry]) -> AssetBook:
        lines = sorted((ln for ln in self.lines if ln.asset == asset),
                       key=lambda ln: (ln.block, ln.log_index if ln.log_index is not None else 1 << 30, ln.line_id))
        moves = [ln for ln in lines if ln.cause != Cause.opening]
        closing = opening + sum((ln.amount for ln in moves), Decimal(0))
        if closing != read_closing:
            key = f"unlogged:{asset}:{self.last}"
            gap = read_closing - closing
            entries[key] = ChainEntry(key, "unlogged", self.last, "", None)
            line = self.add(asset, self.last, "", None, Cause.unlogged, gap, "balanceOf",
                            note=f"the balance read at block {self.last} is {_s(read_closing)}; the logs add up to {_s(closing)}")
            entries[key].lines.append(line)
            lines.append(line)
            moves.append(line)
            closing = read_closing
        return AssetBook(
            asset=asset, address=address, decimals=decimals, opening=opening,
            inflows=sum((ln.amount for ln in moves if ln.amount > 0), Decimal(0)),
            outflows=-sum((ln.amount for ln in moves if ln.amount < 0), Decimal(0)),
            closing=closing, read_closing=read_closing, lines=lines,
        )


@books  # every sum exact: a 24-decimal token's 10,000 units are 29 digits
def read_books(backend: Backend, universe: Universe, first_block: int, last_block: int) -> ChainBooks:
    """The vault's books over blocks first_block..last_block, from the chain alone."""
    return _Reader(backend, universe, first_block, last_block).read()


__all__ = ["ChainBooks", "ChainEntry", "log_key", "read_books"]
