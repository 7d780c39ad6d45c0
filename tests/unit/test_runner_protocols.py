"""The runner's pieces for the real protocols that need no chain: the hand-encoded
aggregate3 the v3 state read uses (checked against the generic ABI codec), and the
execution model's refusal of a route that crosses exchanges."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from eth_abi import decode, encode

from runner.chain.abi import artifact
from runner.models.execution import ExecutionModel, MixedRoute
from runner.models.routing import RoutingModel
from runner.models.v3state import decode_aggregate3, encode_aggregate3
from runner.universe import Dex, Pool, Token, Universe, VaultKind

CALLS = [
    (b"\x11" * 20, bytes.fromhex("5339c296") + (-3).to_bytes(32, "big", signed=True)),
    (b"\x22" * 20, b""),
    (b"\x33" * 20, bytes(range(70))),  # not a whole number of words
]


def test_aggregate3_calldata_is_the_abi_encoding() -> None:
    fn = artifact("Multicall").fn("aggregate3")
    assert encode_aggregate3(CALLS) == fn.encode([(t, False, d) for t, d in CALLS])


def test_aggregate3_results_decode_as_the_abi_says() -> None:
    datas = [b"", (7).to_bytes(32, "big"), bytes(range(45))]
    raw = encode(["(bool,bytes)[]"], [[(True, d) for d in datas]])
    assert decode_aggregate3(raw) == datas
    assert decode(["(bool,bytes)[]"], raw)[0] == tuple((True, d) for d in datas)


def _universe(kind: VaultKind) -> Universe:
    usdc, weth, wbtc = (Token("USDC", b"\x01" * 20, 6), Token("WETH", b"\x02" * 20, 18),
                        Token("WBTC", b"\x03" * 20, 8))
    pools = {
        "WETH/USDC": Pool("WETH/USDC", weth, usdc, b"\x0a" * 20, Decimal("0.0005"), Dex.uniswap_v3),
        "WBTC/WETH": Pool("WBTC/WETH", wbtc, weth, b"\x0b" * 20, Decimal("0.003"), Dex.uniswap_v2),
    }
    return Universe(usdc, {"USDC": usdc, "WETH": weth, "WBTC": wbtc}, pools, b"\x0c" * 20, b"\x0d" * 20,
                    b"\x0e" * 20, b"\x0f" * 20, vault_kind=kind,
                    routers={Dex.uniswap_v2: b"\x10" * 20, Dex.uniswap_v3: b"\x12" * 20})


def test_a_real_vault_swap_stays_on_one_exchange() -> None:
    """USDC -> WETH (v3) -> WBTC (v2) cannot be one vault swap: refused before signing."""
    u = _universe(VaultKind.erc4626)
    model = ExecutionModel(chain=None, wallet=None, universe=u, routing=RoutingModel(u))  # type: ignore[arg-type]
    path = model.routing.buy_path("WBTC")
    with pytest.raises(MixedRoute, match="crosses"):
        model._swap_call(path, 10**6, 0, int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()))


def test_a_v3_swap_carries_the_packed_path_of_its_fee_tier() -> None:
    u = _universe(VaultKind.erc4626)
    model = ExecutionModel(chain=None, wallet=None, universe=u, routing=RoutingModel(u))  # type: ignore[arg-type]
    data, gas, function = model._swap_call(model.routing.buy_path("WETH"), 10**6, 5, 99)
    assert function == "swapV3" and gas > 0
    assert data[:4] == artifact("StrategyVault4626").fn("swapV3").selector
    router, path, amount_in, min_out, deadline = _decode_swap_v3(data)
    assert router == b"\x12" * 20 and (amount_in, min_out, deadline) == (10**6, 5, 99)
    assert path == b"\x01" * 20 + (500).to_bytes(3, "big") + b"\x02" * 20


def _decode_swap_v3(data: bytes) -> tuple[bytes, bytes, int, int, int]:
    router, path, amount_in, min_out, deadline = decode(["address", "bytes", "uint256", "uint256", "uint256"], data[4:])
    return bytes.fromhex(router[2:]), path, amount_in, min_out, deadline
