"""anvil (Foundry) as a chain backend: a node with development methods.

Automine is off: transactions wait in anvil's mempool until `mine()` seals a block at a
timestamp the caller gives (`evm_mine` with a timestamp). That keeps the scenario clock
the only clock, gives every block the same number as on the embedded chain, and makes
stuck, dropped and replaced transactions possible to script.
Starting and stopping the anvil process is the harness's job (harness/anvil_node.py).
"""

from __future__ import annotations

from runner.chain.backend import Ability
from runner.chain.node import GAS_PRICE, RpcBackend, _hex, _unhex
from runner.chain.rpc import open_rpc


class AnvilBackend(RpcBackend):
    """A running anvil node reached at `url`; we are its only miner."""

    name = "anvil"
    abilities = frozenset(Ability)

    def __init__(self, url: str, timeout: float = 30.0) -> None:  # float-ok: seconds
        super().__init__(url, timeout)
        self.rpc.request("evm_setAutomine", [False])
        self._head: int | None = None  # the head as of our last mine (we are the only miner)

    def reconnect(self, url: str) -> None:
        """Talk to a new node process at `url` (a restarted node with the same chain)."""
        self.rpc.close()
        self.rpc = open_rpc(url, self.rpc.timeout)
        self._head = None
        self.rpc.request("evm_setAutomine", [False])

    def refresh(self, head: int | None = None) -> None:
        """Another client (the harness, a restarted runner) may have mined: take its word
        for the head, or ask next time."""
        self._head = head

    def set_next_timestamp(self, timestamp: int) -> None:
        """Nothing to do ahead: transactions run when `evm_mine` seals the block at its time."""

    def mine(self, timestamp: int) -> int:
        """Seal a block; its number from the head this client last knew (evm_mine says none).

        The head is remembered only here, for mining: a `block_number()` read always asks
        the node, so every read the runner makes is a request on the wire (the caching is
        the chain client's, above the fault injectors, the same for every backend)."""
        head = super().block_number() if self._head is None else self._head
        self.rpc.request("evm_mine", [timestamp])
        self._head = head + 1
        return self._head

    def drop_transaction(self, tx_hash: bytes) -> bool:
        dropped = self.rpc.request("anvil_dropTransaction", [_hex(tx_hash)])
        return dropped is not None

    # -- isolation -------------------------------------------------------
    def snapshot(self) -> object:
        return self.rpc.request("evm_snapshot")

    def revert(self, snapshot_id: object) -> None:
        # A snapshot id is consumed by a revert: callers take a fresh one after.
        self._head = None
        # A revert keeps the mempool: what the previous user left pending must not land
        # in the next user's first block.
        self.rpc.request("anvil_dropAllTransactions")
        ok = self.rpc.request("evm_revert", [snapshot_id])
        if not ok:
            raise RuntimeError(f"evm_revert({snapshot_id}) failed: snapshot unknown or already used")
        self._gas_limits.clear()

    def send_impersonated(self, sender: bytes, to: bytes, data: bytes, gas: int) -> bytes:
        """Send as `sender` without its key (anvil_impersonateAccount): third parties on a node."""
        self.rpc.request("anvil_impersonateAccount", [_hex(sender)])
        try:
            balance = int(self.rpc.request("eth_getBalance", [_hex(sender), "latest"]), 16)
            if balance < 10**17:
                self.set_eth_balance(sender, 10**18)
            tx = {"from": _hex(sender), "to": _hex(to), "data": _hex(data), "gas": hex(gas),
                  "gasPrice": hex(GAS_PRICE)}
            tx_hash = _unhex(self.rpc.request("eth_sendTransaction", [tx]))
        finally:
            self.rpc.request("anvil_stopImpersonatingAccount", [_hex(sender)])
        self._gas_limits[tx_hash] = gas
        return tx_hash

    def set_eth_balance(self, address: bytes, wei: int) -> None:
        self.rpc.request("anvil_setBalance", [_hex(address), hex(wei)])

    def dump_state(self) -> bytes:
        """anvil's own dump (hex of a gzipped JSON document), as bytes."""
        return str(self.rpc.request("anvil_dumpState")).encode()

    def load_state(self, dump: bytes) -> None:
        """anvil_loadState into this (fresh) node: the dumped chain comes back, head included."""
        self.rpc.request("anvil_loadState", [dump.decode()])
        self._head = None


__all__ = ["AnvilBackend"]
