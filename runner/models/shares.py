"""What a rebasing token's TransferShares log moves, for the models that follow its shares.

The fixture's rebasing token (stETH-like: fixtures/contracts/RebasingToken.sol) logs every
share movement as TransferShares(from, to, sharesValue), a mint from and a burn to the
zero address. The sync works a vault's shares at an earlier block back from the head's
(runner/models/sync.py), the execution model a swap's balance change forward from the
block before it (runner/models/execution.py): one reading of the log for both, so the
two cannot disagree on a sign.
"""

from __future__ import annotations

from runner.chain.abi import artifact
from runner.chain.backend import Log

TRANSFER_SHARES = artifact("RebasingToken").event("TransferShares")
_ZERO = bytes(32)


def share_moves(log: Log, holder: bytes) -> tuple[int, int] | None:
    """(change of `holder`'s shares, change of the total shares) the log makes, or None
    when it is not a TransferShares log."""
    if len(log.topics) < 3 or log.topics[0] != TRANSFER_SHARES.topic:
        return None
    moved = int.from_bytes(log.data[:32], "big")
    source, target, account = log.topics[1], log.topics[2], bytes(12) + holder
    return ((moved if target == account else 0) - (moved if source == account else 0),
            (moved if source == _ZERO else 0) - (moved if target == _ZERO else 0))
