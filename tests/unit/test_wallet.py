"""Our signer, checked against an independent implementation (eth-account)."""

from __future__ import annotations

import random
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_utils import to_checksum_address

from runner.chain import rawtx
from runner.chain.wallet import Wallet, _encode_legacy, checksum

CHAIN_ID = 131277322940537


class TestSigner:
    @pytest.mark.parametrize("to,data,value", [
        (bytes.fromhex("11" * 20), b"", 10**18),
        (bytes.fromhex("22" * 20), bytes.fromhex("a9059cbb") + b"\x00" * 64, 0),
        (None, bytes.fromhex("6080604052"), 0),  # a deployment
    ])
    def test_same_bytes_as_eth_account(self, to: bytes | None, data: bytes, value: int) -> None:
        """Raw bytes and hash equal eth-account's for the same legacy EIP-155 transaction."""
        wallet = Wallet.from_label("signer-check")
        wallet.nonce = 7
        raw, tx_hash, nonce = wallet.sign(to=to, data=data, gas=210_000, gas_price=10 * 10**9,
                                          chain_id=CHAIN_ID, value=value)
        tx = {"nonce": 7, "gasPrice": 10 * 10**9, "gas": 210_000, "value": value, "data": data,
              "chainId": CHAIN_ID, "to": "0x" + to.hex() if to is not None else b""}
        theirs = Account.sign_transaction(tx, wallet.private_key)
        assert (raw, tx_hash, nonce) == (bytes(theirs.raw_transaction), bytes(theirs.hash), 7)
        assert Account.recover_transaction(raw) == wallet.checksum_address
        assert wallet.nonce == 8

    def test_gas_limit_is_read_from_the_signed_bytes(self) -> None:
        """A node-free read of the gas limit, for legacy and EIP-1559 envelopes alike."""
        wallet = Wallet.from_label("signer-check")
        raw, _, _ = wallet.sign(to=b"\x01" * 20, data=b"", gas=123_456, gas_price=1, chain_id=CHAIN_ID)
        typed = Account.sign_transaction({"type": 2, "nonce": 0, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1,
                                          "gas": 654_321, "to": "0x" + "01" * 20, "value": 0, "data": b"",
                                          "chainId": CHAIN_ID}, wallet.private_key)
        assert rawtx.gas_limit(raw) == 123_456
        assert rawtx.gas_limit(bytes(typed.raw_transaction)) == 654_321


def _random_tx(rng: random.Random) -> dict[str, Any]:
    """Field values across every RLP length class: 0, single bytes below 0x80, short and long strings."""
    def number() -> int:
        kind = rng.randrange(5)
        return (0, rng.randrange(1, 0x80), rng.randrange(0x80, 256), rng.getrandbits(rng.randrange(9, 257)),
                2**rng.randrange(256) - 1)[kind]
    size = rng.choice((0, 1, 1, 2, 36, 55, 56, 57, 68, 300, 70_000))
    data = bytes([rng.randrange(256 if size != 1 else rng.choice((0x80, 256)))]) if size == 1 else rng.randbytes(size)
    to = None if rng.random() < 0.1 else rng.randbytes(20)
    return {"nonce": number(), "gas_price": number(), "gas": number(), "value": number(), "data": data, "to": to,
            "chain_id": rng.choice((1, 127, 128, CHAIN_ID, 2**64 - 1))}


class TestHandEncoder:
    """The hand RLP of `Wallet.sign` against the `rlp` package and eth-account."""

    def test_legacy_rlp_equals_rlp_package(self) -> None:
        rng = random.Random(20261201)
        for _ in range(2000):
            t = _random_tx(rng)
            to = t["to"] or b""
            fields = [t["nonce"], t["gas_price"], t["gas"], to, t["value"], t["data"], t["chain_id"],
                      rng.getrandbits(256), rng.choice((0, 1, rng.getrandbits(256)))]
            assert _encode_legacy(*fields) == rlp.encode(fields)

    def test_signed_bytes_equal_eth_account_for_random_transactions(self) -> None:
        rng = random.Random(20261202)
        wallet = Wallet.from_label("random-signer")
        for _ in range(200):
            t = _random_tx(rng)
            raw, tx_hash, nonce = wallet.sign(to=t["to"], data=t["data"], gas=t["gas"], gas_price=t["gas_price"],
                                              chain_id=t["chain_id"], value=t["value"], nonce=t["nonce"])
            theirs = Account.sign_transaction(
                {"nonce": t["nonce"], "gasPrice": t["gas_price"], "gas": t["gas"], "value": t["value"],
                 "data": t["data"], "chainId": t["chain_id"],
                 "to": to_checksum_address(t["to"]) if t["to"] is not None else b""}, wallet.private_key)
            assert (raw, tx_hash, nonce) == (bytes(theirs.raw_transaction), bytes(theirs.hash), t["nonce"])

    @pytest.mark.parametrize("fields", [
        [-1, 1, 1, b"", 0, b"", 1, 0, 0],  # a negative number
        [1, 1, 1, "0x00", 0, b"", 1, 0, 0],  # a str where bytes belong
        [1, 1, 1, b"", 0, bytearray(b"ab"), 1, 0, 0],  # a bytearray: rlp's own encoding
        [True, 1, 1, b"", 0, b"", 1, 0, 0],  # a bool
    ])
    def test_unexpected_values_go_to_rlp(self, fields: list[Any]) -> None:
        """Whatever `rlp.encode` does with an odd value (raise, or encode), the encoder does the same."""
        try:
            expected: Any = rlp.encode(fields)
        except Exception as exc:  # noqa: BLE001 - the very exception is compared
            expected = type(exc)
        try:
            got: Any = _encode_legacy(*fields)
        except Exception as exc:  # noqa: BLE001
            got = type(exc)
        assert got == expected

    def test_checksum_equals_eth_utils(self) -> None:
        rng = random.Random(5)
        for _ in range(300):
            address = rng.randbytes(20)
            assert checksum(address) == to_checksum_address(address) == checksum(address)
            assert checksum(bytearray(address)) == to_checksum_address(address)
