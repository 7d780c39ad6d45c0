"""Keys that sign: a hot wallet with a locally tracked nonce.

Signing is done with coincurve over a hand-built legacy (EIP-155) transaction: it is the
one place a trading cycle spends CPU on crypto, and eth-account's generic path costs
several times more for the same bytes. Signatures are RFC 6979 deterministic, so the
same scenario produces the same transaction hashes on every run and backend.

The RLP is encoded by hand (`_encode_legacy`): the `rlp` package infers a sedes for every
item of every list, which cost more than the signature itself (about 0.25 ms a
transaction against 0.005 ms). Anything the hand encoder does not expect (a negative
number, a value that is not an int or bytes) goes to `rlp.encode`, so an error is the one
`rlp` raises. Keccak is pysha3's C object where it is installed (it is, with
eth-tester[py-evm]): eth_hash's default pycryptodome backend costs 5x more a digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import rlp
from coincurve import PrivateKey

try:  # safe-pysha3: the same digest as eth_hash.auto's, without its Python wrapper layers
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()  # type: ignore[no-any-return]
except ImportError:  # pragma: no cover - the same digest, slower
    from eth_hash.auto import keccak  # type: ignore[assignment]


def key_for(label: str) -> bytes:
    """A fixed private key derived from a label: accounts are reproducible by name."""
    return keccak(f"dst-harness/account/{label}".encode())


def address_of(private_key: bytes) -> bytes:
    pub = PrivateKey(private_key).public_key.format(compressed=False)[1:]
    return keccak(pub)[-20:]


def _checksum(address: bytes) -> str:
    hex_addr = address.hex()
    digest = keccak(hex_addr.encode()).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_addr))


_checksum_memo = lru_cache(maxsize=4096)(_checksum)


def checksum(address: bytes) -> str:
    """EIP-55 mixed-case hex. Memoised for `bytes`: a run asks for the same few addresses
    every cycle (each accounting row, each signed trade), 0.1 ms of hashing a time."""
    return _checksum_memo(address) if type(address) is bytes else _checksum(address)


def _rlp_header(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    n = (length.bit_length() + 7) // 8
    return bytes((offset + 55 + n,)) + length.to_bytes(n, "big")


def _rlp_bytes(b: bytes) -> bytes:
    if len(b) == 1 and b[0] < 0x80:
        return b
    return _rlp_header(len(b), 0x80) + b


def _rlp_uint(value: int) -> bytes:
    if value == 0:
        return b"\x80"
    if value < 0x80:
        return bytes((value,))
    return _rlp_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _encode_legacy(nonce: int, gas_price: int, gas: int, to: bytes, value: int, data: bytes,
                   v: int, r: int, s: int) -> bytes:
    """rlp.encode([nonce, gas_price, gas, to, value, data, v, r, s]), byte for byte."""
    ints = (nonce, gas_price, gas, value, v, r, s)
    if not (all(type(x) is int and x >= 0 for x in ints) and type(to) is bytes and type(data) is bytes):
        return rlp.encode([nonce, gas_price, gas, to, value, data, v, r, s])  # its errors, its way
    body = b"".join((_rlp_uint(nonce), _rlp_uint(gas_price), _rlp_uint(gas), _rlp_bytes(to), _rlp_uint(value),
                     _rlp_bytes(data), _rlp_uint(v), _rlp_uint(r), _rlp_uint(s)))
    return _rlp_header(len(body), 0xC0) + body


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
        unsigned = _encode_legacy(n, gas_price, gas, to_b, value, data, chain_id, 0, 0)
        sig = self._signer.sign_recoverable(keccak(unsigned), hasher=None)
        r = int.from_bytes(sig[0:32], "big")
        s = int.from_bytes(sig[32:64], "big")
        v = sig[64] + 35 + 2 * chain_id
        raw = _encode_legacy(n, gas_price, gas, to_b, value, data, v, r, s)
        if nonce is None or nonce == self.nonce:
            self.nonce = n + 1
        return raw, keccak(raw), n

    @property
    def checksum_address(self) -> str:
        return checksum(self.address)


class KeyNotHeld(RuntimeError):
    """Something tried to sign for an account whose key nobody here holds."""


def impersonated_tx_hash(sender: bytes, nonce: int, gas_price: int, gas: int, to: bytes, data: bytes,
                         chain_id: int) -> bytes:
    """anvil's hash of an impersonated transaction (eth_sendTransaction from an account it
    impersonates): the legacy encoding with v = 35 + 2 x chain id and r = s = 0, with the
    sender's address appended (measured against anvil 1.7.1). Known before the send, so a
    runner can write it to its state first, exactly as it writes a signed one's."""
    body = b"".join((_rlp_uint(nonce), _rlp_uint(gas_price), _rlp_uint(gas), _rlp_bytes(to), _rlp_uint(0),
                     _rlp_bytes(data), _rlp_uint(35 + 2 * chain_id), _rlp_uint(0), _rlp_uint(0)))
    return keccak(_rlp_header(len(body), 0xC0) + body + sender)


class ImpersonatedWallet(Wallet):
    """An account the runner sends as without its key: a real vault's asset manager on a
    fork, whose transactions the node executes by impersonation (anvil_impersonateAccount,
    or revm's equivalent). It cannot sign (`KeyNotHeld`); `ChainClient` sends for it, and
    refuses on a backend without the impersonation ability. Narrow on purpose: only this
    class, chosen explicitly where the runner is built, ever sends without a signature."""

    def __init__(self, label: str, address: bytes) -> None:  # no key: nothing to derive
        self.label = label
        self.private_key = b""
        self.address = address
        self.nonce = 0

    def __repr__(self) -> str:
        return f"ImpersonatedWallet({self.label!r}, {checksum(self.address)})"

    def sign(self, *, to: bytes | None, data: bytes, gas: int, gas_price: int, chain_id: int,
             value: int = 0, nonce: int | None = None) -> tuple[bytes, bytes, int]:
        raise KeyNotHeld(f"{checksum(self.address)} ({self.label}) has no key here: its transactions are "
                         "sent by impersonation (ChainClient), never signed")

