"""Failed trades on the real DEXes, without touching their bytecode.

The harness's four fault modes (`revert` with a reason, `out_of_gas`, `slippage`,
`transfer_failure`) are armed on the project's FaultSwitch, keyed by the first hop's pool
(or address 0 for any pool), exactly as for the fixture AMM. The strategy vaults read it
before each swap (ManagedVaultBase):

| mode | what happens | what the receipt says |
|---|---|---|
| `revert` | the vault reverts with the armed reason before calling the DEX | the reason |
| `out_of_gas` | the vault burns all gas | status 0, gas used == gas limit, no reason |
| `slippage` | the vault passes an unreachable minimum output; the DEX swaps and its own check fails | `UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT` (v2), `Too little received` (v3) |
| `transfer_failure` | the vault approves one unit less than it sells; the DEX's transferFrom fails in the token | `TransferHelper: TRANSFER_FROM_FAILED` (v2), `STF` (v3) |

`block_transfers` is the token-level switch (TestToken.setTransfersBlocked): every
transfer out of an account reverts in the token itself, whoever initiates it.
"""

from __future__ import annotations

from harness.protocols.deploy import Deployer
from runner.universe import Token

FAULT_MODES = {"revert": 1, "out_of_gas": 2, "slippage": 3, "transfer_failure": 4}
ANY_POOL = b"\x00" * 20
FAULT_SWITCH_DEPLOY_GAS = 1_000_000
ARM_GAS = 120_000


def deploy_fault_switch(d: Deployer) -> bytes:
    return d.deploy("FaultSwitch", gas=FAULT_SWITCH_DEPLOY_GAS)


def arm_fault(d: Deployer, fault_switch: bytes, pool: bytes | None, mode: str, reason: str = "") -> None:
    """Make the vaults' next swaps whose first hop is `pool` (None: any pool) fail."""
    if mode not in FAULT_MODES:
        raise ValueError(f"unknown fault mode {mode!r}; expected one of {sorted(FAULT_MODES)}")
    d.send(d.admin, fault_switch, "FaultSwitch", "arm", pool or ANY_POOL, FAULT_MODES[mode], reason, gas=ARM_GAS,
           action=f"arm {mode} on {'any pool' if pool is None else '0x' + pool.hex()}")


def disarm_fault(d: Deployer, fault_switch: bytes, pool: bytes | None) -> None:
    d.send(d.admin, fault_switch, "FaultSwitch", "disarm", pool or ANY_POOL, gas=ARM_GAS,
           action=f"disarm {'any pool' if pool is None else '0x' + pool.hex()}")


def block_transfers(d: Deployer, token: Token, account: bytes, blocked: bool = True) -> None:
    """The token-level transfer failure: `token` refuses every transfer out of `account`."""
    if token.rebasing:
        raise ValueError(f"{token.symbol} is a RebasingToken, which has no transfer switch")
    d.send(d.admin, token.address, "TestToken", "setTransfersBlocked", account, blocked, gas=ARM_GAS,
           action=f"{'block' if blocked else 'unblock'} {token.symbol} transfers from 0x{account.hex()}")
