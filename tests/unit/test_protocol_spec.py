"""A protocol world declaration is rejected before any transaction when it cannot deploy."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from harness.protocols.world import ProtocolPoolDecl, ProtocolWorldSpec
from harness.world import TokenDecl

TOKENS = (TokenDecl("USDC", 6), TokenDecl("WETH", 18))
POOL = ProtocolPoolDecl("WETH", "USDC", D(2000), D(1_000_000), "v3", 500)


@pytest.mark.parametrize(("spec", "message"), [
    (ProtocolWorldSpec("DAI", TOKENS, (POOL,)), "reserve DAI is not among the tokens"),
    (ProtocolWorldSpec("USDC", TOKENS, (POOL, POOL)), "declared twice"),
    (ProtocolWorldSpec("USDC", TOKENS, (ProtocolPoolDecl("WBTC", "USDC", D(1), D(1)),)), "unknown token WBTC"),
    (ProtocolWorldSpec("USDC", TOKENS, (ProtocolPoolDecl("WETH", "USDC", D(1), D(1), "v2", 500),)),
     "Uniswap v2 has one fee"),
    (ProtocolWorldSpec("USDC", TOKENS, (ProtocolPoolDecl("WETH", "USDC", D(1), D(1), "v3", 2500),)),
     "not a v3 fee tier"),
    (ProtocolWorldSpec("USDC", TOKENS, (ProtocolPoolDecl("WETH", "USDC", D(1), D(1), "fixture", 250),)),
     "whole basis points"),
    (ProtocolWorldSpec("USDC", TOKENS, (POOL,), valuation=(("WETH", "WETH/USDC@v2"),)),
     "is not a declared pool"),
])
def test_invalid_declarations_are_rejected(spec: ProtocolWorldSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec.validate()


def test_pool_keys_name_venue_and_fee() -> None:
    assert POOL.key == "WETH/USDC@v3-500"
    assert ProtocolPoolDecl("WETH", "USDC", D(1), D(1)).key == "WETH/USDC@v2"
    ProtocolWorldSpec("USDC", TOKENS, (POOL,), valuation=(("WETH", POOL.key),)).validate()
