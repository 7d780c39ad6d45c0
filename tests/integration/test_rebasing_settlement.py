"""A rebasing token sold from the legacy vault is booked as the vault's balance moved.

The legacy vault's Swapped says what it sent; the rebasing token debits the sender by
shares rounded down, often a unit less. The runner (ExecutionModel.swap_result) and the
harness (ChainTruth.rebasing_change) each work out the vault's real balance change in the
swap's transaction from the token's state at the block before and the block's logs: here
checked against plain balance reads around the same swap mined alone, both for the swap
alone in its block and for one amid other changes to the token (interest and a mint into
the vault before it, a rebase and a burn out of the vault after it, all in one block).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from harness.chains import ChainPool
from harness.truth import ChainTruth
from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.models.execution import SWAP_GAS_BASE, SWAP_GAS_PER_HOP
from runner.universe import Token
from tests.integration.worlds import make_bench


def _short_sale(chain: ChainClient, steth: Token, vault: bytes, near: int) -> int:
    """An amount near `near` whose sale the shares' rounding cuts short: the vault's
    balance drops by less than the amount sent (the token's formula, to pick the input)."""
    token = artifact("RebasingToken")
    shares, total, pooled = (int(x) for x in chain.read_many([
        (steth.address, token.fn("sharesOf"), (vault,)),
        (steth.address, token.fn("getTotalShares"), ()),
        (steth.address, token.fn("getTotalPooled"), ()),
    ]))
    for amount in range(near, near + 1000):
        moved = amount * total // pooled
        if shares * pooled // total - (shares - moved) * pooled // total != amount:
            return amount
    raise AssertionError("no short sale near the amount")


@pytest.mark.parametrize("crowded", [False, True], ids=["alone", "crowded-block"])
def test_a_rebasing_sale_books_the_vault_balance_change(chain_pool: ChainPool, crowded: bool) -> None:
    b = make_bench(chain_pool, backend="revm")
    b.at(0)
    b.world.deposit("alice", Decimal(5_000))
    b.tick(0)
    w, u = b.world, b.world.universe
    steth, usdc = u.tokens["stETH"], u.reserve
    w.accrue_interest(steth, Decimal("0.0123"))  # a share is worth more than a unit now
    wallet = b.runner.asset_manager
    b.chain.sync_nonce(wallet)
    deadline = int((b.at(1) + timedelta(hours=1)).timestamp())
    gas = SWAP_GAS_BASE + SWAP_GAS_PER_HOP

    def before_swap() -> None:
        w.accrue_interest(steth, Decimal("0.0007"))
        w.external_transfer(steth, Decimal("0.3"))  # minted into the vault

    def after_swap() -> None:
        w.rebase(steth, Decimal("-0.0211"))
        w.external_transfer(steth, Decimal("-0.1"))  # burned out of it

    snap = b.chain.snapshot()
    if crowded:  # the truth of the crowded block: the changes before the swap in blocks of their own
        before_swap()
    amount = _short_sale(b.chain, steth, u.vault, w.balance_of(steth, u.vault) // 3)
    swap = artifact("Vault").fn("swap").encode(amount, 0, [steth.address, usdc.address], deadline)
    held = w.balance_of(steth, u.vault)
    receipt = b.chain.transact(wallet, u.vault, swap, gas)  # mined alone
    assert receipt.success
    moved = w.balance_of(steth, u.vault) - held
    assert 0 > moved != -amount  # the Swapped event's amountIn is not what the vault lost

    if crowded:  # again, the swap amid the others, all in one block
        b.chain.revert(snap)
        for wal in (wallet, *w.accounts.all()):
            b.chain.sync_nonce(wal)
        with w.block():
            before_swap()
            tx_hash = b.chain.send(wallet, u.vault, swap, gas)
            after_swap()
        again = b.chain.backend.get_receipt(tx_hash)
        assert again is not None and again.success
        receipt = again
    logs = b.chain.backend.get_logs(steth.address, [], receipt.block_number, receipt.block_number)
    assert len({lg.tx_hash for lg in logs}) == (5 if crowded else 1)

    result = b.runner.execution_model.swap_result(receipt)
    assert result is not None and result.amount_in == -moved
    assert ChainTruth(b.chain.backend, u).rebasing_change(steth, receipt) == moved
