"""Keys that sign: a hot wallet with a locally tracked nonce.

Signing is done with coincurve over a hand-built legacy (EIP-155) transaction: it is the
one place a trading cycle spends CPU on crypto, and eth-account's generic path costs
several times more for the same bytes. Signatures are RFC 6979 deterministic, so the
same scenario produces the same transaction hashes on every run and backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import rlp
from coincurve import PrivateKey
from eth_hash.auto import keccak


def key_for(label: str) -> bytes:
    """A fixed private key derived from a label: accounts are reproducible by name."""
    return keccak(f"dst-harness/account/{label}".encode())


def address_of(private_key: bytes) -> bytes:
    pub = PrivateKey(private_key).public_key.format(compressed=False)[1:]
    return keccak(pub)[-20:]


def checksum(address: bytes) -> str:
    hex_addr = address.hex()
    digest = keccak(hex_addr.encode()).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_addr))


@dataclass
class Wallet:
    """An account the harness or the runner sends transactions from."""

    label: str
    private_key: bytes
    address: bytes = field(init=False)
    nonce: int = 0
    _signer: PrivateKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._signer = PrivateKey(self.private_key)
        self.address = keccak(self._signer.public_key.format(compressed=False)[1:])[-20:]

    @classmethod
    def from_label(cls, label: str) -> Wallet:
        return cls(label, key_for(label))

    def sign(self, *, to: bytes | None, data: bytes, gas: int, gas_price: int, chain_id: int,
             value: int = 0, nonce: int | None = None) -> tuple[bytes, bytes, int]:
        """Sign a legacy transaction; returns (raw, hash, nonce) and advances the nonce."""
        n = self.nonce if nonce is None else nonce
        to_b = to if to is not None else b""
        unsigned = rlp.encode([n, gas_price, gas, to_b, value, data, chain_id, 0, 0])
        sig = self._signer.sign_recoverable(keccak(unsigned), hasher=None)
        r = int.from_bytes(sig[0:32], "big")
        s = int.from_bytes(sig[32:64], "big")
        v = sig[64] + 35 + 2 * chain_id
        raw = rlp.encode([n, gas_price, gas, to_b, value, data, v, r, s])
        if nonce is None or nonce == self.nonce:
            self.nonce = n + 1
        return raw, keccak(raw), n

    @property
    def checksum_address(self) -> str:
        return checksum(self.address)
