"""The redemption queue's payment as the runner leaves and resolves it: a call the node
has not mined is recorded in the state, kept by the state file, and resolved from the
chain's answers exactly once (runner/models/redemptions.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from runner.chain.backend import Receipt
from runner.models.redemptions import RedemptionQueueModel
from runner.state import BlockchainTransaction, State, decode_state, encode_state

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TX = b"\x11" * 32
NONCE = 7


class Backend:
    """The two answers `resolve` reads: a receipt (or none) for one hash."""

    def __init__(self, receipt: Receipt | None) -> None:
        self.receipt = receipt
        self.asked: list[bytes] = []

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        self.asked.append(tx_hash)
        return self.receipt


def _model(receipt: Receipt | None) -> tuple[RedemptionQueueModel, Backend]:
    backend = Backend(receipt)
    chain: Any = SimpleNamespace(backend=backend)
    return RedemptionQueueModel(chain, SimpleNamespace(vault=b"\x22" * 20), SimpleNamespace()), backend  # type: ignore[arg-type]


def _state() -> State:
    s = State.new("s", "USDC", T0, 6)
    s.pending_fulfilment = BlockchainTransaction(
        tx_hash="0x" + TX.hex(), nonce=NONCE, from_address="0x" + "33" * 20, to_address="0x" + "22" * 20,
        function="fulfillRedemptions", gas_limit=1_500_000, broadcast_at=T0)
    return s


def _receipt(status: int = 1) -> Receipt:
    return Receipt(tx_hash=TX, status=status, block_number=12, gas_used=90_000, gas_limit=1_500_000,
                   revert_reason=None if status else "nothing to pay")


@pytest.mark.parametrize("status", [1, 0])
def test_a_mined_payment_is_cleared_and_resolving_again_changes_nothing(status: int) -> None:
    """Its Withdraw events are the sync's to book; the record only says what to wait on."""
    model, _ = _model(_receipt(status))
    state = _state()
    found = model.resolve(state, NONCE + 1, set())
    assert state.pending_fulfilment is None
    assert found is not None and "mined in block 12" in found and ("reverted" in found) == (status == 0)
    assert model.resolve(state, NONCE + 1, set()) is None


def test_a_payment_still_in_the_mempool_is_kept() -> None:
    model, _ = _model(None)
    state = _state()
    assert "still pending" in (model.resolve(state, NONCE, {TX}) or "")
    assert state.pending_fulfilment is not None and state.pending_fulfilment.nonce == NONCE
    assert "still pending" in (model.resolve(state, NONCE, {TX}) or "")  # the same answer, the same state


@pytest.mark.parametrize("confirmed,why", [(NONCE, "dropped by the node"),
                                           (NONCE + 1, f"nonce {NONCE} was used by another transaction")])
def test_a_payment_the_chain_will_never_mine_is_forgotten(confirmed: int, why: str) -> None:
    """Neither mined nor held by the node: the cycle pays the queue afresh, from the node's nonce."""
    model, _ = _model(None)
    state = _state()
    found = model.resolve(state, confirmed, set())
    assert state.pending_fulfilment is None and found is not None and why in found


def test_nothing_pending_asks_the_node_nothing() -> None:
    model, backend = _model(_receipt())
    state = State.new("s", "USDC", T0, 6)
    assert model.resolve(state, 0, set()) is None and backend.asked == []


def test_the_state_file_keeps_a_pending_payment() -> None:
    state = _state()
    again = decode_state(encode_state(state))
    assert again.pending_fulfilment == state.pending_fulfilment


def test_a_state_written_before_the_field_loads_with_nothing_pending() -> None:
    """Same schema version: the field is optional, as `universe` was when it was added."""
    doc = msgspec.json.decode(encode_state(State.new("s", "USDC", T0, 6)))
    del doc["pending_fulfilment"]
    assert decode_state(msgspec.json.encode(doc)).pending_fulfilment is None
