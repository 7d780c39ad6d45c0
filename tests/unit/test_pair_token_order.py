"""A pair's token0 is the token with the numerically smaller address (UniswapV2Factory's
and the fixture Factory's `tokenA < tokenB`). The runner (Pool.base_is_token0) and the
chain-truth oracle (harness.truth._oriented) both orient reserves by it.

The addresses below are the world of scenarios/regressions/invariant-chain-truth-nav-s2026-r57.yaml:
UNI 0x503c.. < CRV 0x5ca5.., but bytes.lower() maps the byte 0x50 ('P') to 0x70 ('p') and
so sorted UNI after CRV: the oracle read the UNI/CRV reserves backwards (fuzz seed 2026 run 57).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.truth import _oriented
from runner.universe import Pool, Token

UNI = Token("UNI", bytes.fromhex("503c378756cdd7016fb06e833feb87a56cac4da0"), 18)
CRV = Token("CRV", bytes.fromhex("5ca5222ff78031ebf12da965640770e9b3cce142"), 18)
# The byte 0x41 ('A') becomes 0x61 under lower(), past 0x5a: the same trap the other way.
LOW = Token("LOW", bytes.fromhex("41" + "00" * 19), 18)
MID = Token("MID", bytes.fromhex("5b" + "00" * 19), 18)


@pytest.mark.parametrize(("token0", "token1"), [(UNI, CRV), (LOW, MID)])
def test_base_is_token0_orders_by_address_value(token0: Token, token1: Token) -> None:
    assert int.from_bytes(token0.address, "big") < int.from_bytes(token1.address, "big")
    assert Pool(f"{token0.symbol}/{token1.symbol}", token0, token1, b"\x01" * 20, Decimal("0.003")).base_is_token0
    assert not Pool(f"{token1.symbol}/{token0.symbol}", token1, token0, b"\x01" * 20, Decimal("0.003")).base_is_token0


@pytest.mark.parametrize(("token0", "token1"), [(UNI, CRV), (LOW, MID)])
def test_oracle_orients_reserves_by_address_value(token0: Token, token1: Token) -> None:
    reserves = (111, 222)  # (reserve0, reserve1) as getReserves returns them
    assert _oriented(reserves, token0, token1) == (111, 222)
    assert _oriented(reserves, token1, token0) == (222, 111)
