"""Decoding revert data, shared by every backend so reasons read the same everywhere."""

from __future__ import annotations

from eth_abi import decode

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)


def decode_revert_reason(data: bytes) -> str | None:
    """The human reason inside revert data, or None when there is none to read."""
    if data[:4] == ERROR_SELECTOR:
        try:
            return str(decode(["string"], data[4:])[0])
        except Exception:  # malformed payload: report it raw rather than guess
            return "0x" + data.hex()
    if data[:4] == PANIC_SELECTOR and len(data) >= 36:
        return f"Panic(0x{int.from_bytes(data[4:36], 'big'):02x})"
    if data:
        return "0x" + data.hex()
    return None
