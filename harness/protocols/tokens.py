"""The fixture tokens the real protocols trade: deployed and minted by the admin."""

from __future__ import annotations

from decimal import Decimal

from harness.protocols.deploy import Deployer
from runner.chain.abi import artifact
from runner.universe import Token

TOKEN_DEPLOY_GAS = 1_500_000
MINT_GAS = 150_000  # RebasingToken.mint writes shares, total shares and supply: ~100k
APPROVE_GAS = 60_000
SET_GAS = 60_000


def deploy_token(d: Deployer, symbol: str, decimals: int, *, transfer_fee: Decimal = Decimal(0),
                 rebasing: bool = False) -> Token:
    """A TestToken (or RebasingToken) owned by the admin, who alone can mint it."""
    contract = "RebasingToken" if rebasing else "TestToken"
    address = d.deploy(contract, symbol, symbol, decimals, gas=TOKEN_DEPLOY_GAS)
    if transfer_fee:
        bps = int((transfer_fee * 10_000).to_integral_value())
        d.send(d.admin, address, "TestToken", "setTransferFee", bps, gas=SET_GAS,
               action=f"setTransferFee {symbol}")
    return Token(symbol, address, decimals, rebasing, transfer_fee)


def mint(d: Deployer, token: Token, to: bytes, units: int) -> None:
    # TestToken and RebasingToken share mint(address,uint256)
    d.send(d.admin, token.address, "TestToken", "mint", to, units, gas=MINT_GAS, action=f"mint {token.symbol}")


def balance_of(d: Deployer, token: bytes, holder: bytes) -> int:
    return int(d.chain.read(token, artifact("TestToken").fn("balanceOf"), holder))
