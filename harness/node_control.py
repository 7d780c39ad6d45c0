"""What a scenario can do to the node itself: stall or drop its mempool, restart its
process, and reorganise its chain.

Each action needs an ability of the backend (`runner.chain.backend.Ability`) and raises
`Unsupported` when the backend lacks it; the engine turns that into an error at the
event's line. Event handlers get this object, never the chain pool or the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from harness.accounts import Accounts
from runner.chain.backend import Ability
from runner.chain.client import ChainClient
from runner.chain.errors import Unsupported


class NoMark(LookupError):
    """A reorg to an instant whose chain was never marked."""


class NodeControl:
    def __init__(self, chain: ChainClient, accounts: Accounts, restart: Callable[[], None]) -> None:
        self.chain = chain
        self.accounts = accounts
        self._restart = restart
        self._marks: dict[timedelta, object] = {}

    def _need(self, ability: Ability, what: str) -> None:
        backend = self.chain.backend
        if ability not in backend.abilities:
            raise Unsupported(backend.name, what, "set chain: {backend: anvil} or run with --backend anvil")

    # -- block production ------------------------------------------------------
    def stall(self) -> None:
        """Blocks stop: the runner's broadcasts stay pending."""
        self._need(Ability.mempool, "stall blocks: it has no mempool (transactions run on arrival)")
        self.chain.automine = False

    def resume(self) -> int:
        """A block includes everything pending; returns how many were pending."""
        self._need(Ability.mempool, "resume blocks: it has no mempool")
        pending = len(self.chain.backend.pending_transactions())
        self.chain.automine = True
        self.chain.mine()
        return pending

    def drop(self) -> int:
        """Every pending transaction is dropped; returns how many were."""
        self._need(Ability.mempool, "drop pending transactions: it has no mempool")
        backend = self.chain.backend
        dropped = [h for h in backend.pending_transactions() if backend.drop_transaction(h)]
        self.chain.automine = True
        return len(dropped)

    # -- the node process --------------------------------------------------------
    def restart(self) -> None:
        """The node process restarts, keeping its chain (state dump and load)."""
        self._need(Ability.restart, "restart its node: it has no process")
        self._restart()

    # -- reorgs ----------------------------------------------------------------
    def mark(self, offset: timedelta) -> None:
        """Remember the chain as it is now: a later reorg goes back to this instant."""
        self._marks[offset] = self.chain.snapshot()

    def reorg(self, to: timedelta, now: int) -> tuple[int, int]:
        """Go back to the chain as marked at `to`; returns (blocks replaced, new head)."""
        snap = self._marks.get(to)
        if snap is None:
            raise NoMark("no chain snapshot at that instant")
        before = self.chain.block_number()
        self.chain.revert(snap)  # type: ignore[arg-type]
        self._marks[to] = self.chain.snapshot()  # a snapshot is used up by a revert
        self.chain.set_clock(now)
        for wallet in self.accounts.all():
            self.chain.sync_nonce(wallet)
        head = self.chain.block_number()
        return before - head, head


__all__ = ["NoMark", "NodeControl"]
