"""Revert strings of the published DEX builds, read the way their authors meant them.

The published Router02 (solc 0.6.6) leaves memory garbage in the zero padding after an
`Error(string)` payload, e.g. `UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT` (43 bytes)
arrives padded with `...0080`. A strict ABI decoder rejects that, so runner.chain.revert
currently reports such reasons as raw hex. This reads them leniently (eth_abi's
non-strict mode accepts non-zero padding) and leaves every other reason as it is.
"""

from __future__ import annotations

from eth_abi import decode

ERROR_SELECTOR_HEX = "0x08c379a0"


def revert_message(reason: str | None) -> str | None:
    """`reason` as reported by a backend, with a raw `Error(string)` decoded leniently."""
    if reason is None or not reason.startswith(ERROR_SELECTOR_HEX):
        return reason
    try:
        return str(decode(["string"], bytes.fromhex(reason[len(ERROR_SELECTOR_HEX):]), strict=False)[0])
    except Exception:  # not an Error(string) after all: keep what the backend said
        return reason
