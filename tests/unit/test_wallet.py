"""Our signer, checked against an independent implementation (eth-account)."""

from __future__ import annotations

import pytest
from eth_account import Account

from runner.chain import rawtx
from runner.chain.wallet import Wallet

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
