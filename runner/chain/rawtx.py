"""What a node reads out of a signed transaction's bytes, without asking the node.

The runner knows each transaction's gas limit from its own bytes, so an out-of-gas
failure is recognised from the receipt alone (gas used against that limit) with no
extra `eth_getTransactionByHash` round trip.
"""

from __future__ import annotations

import rlp

# Position of the gas limit in each envelope's RLP list.
_GAS_INDEX = {None: 2, 0x01: 3, 0x02: 4}  # legacy, EIP-2930, EIP-1559


def gas_limit(raw: bytes) -> int:
    """The gas limit of a signed legacy or typed (EIP-2930/1559) transaction."""
    kind = raw[0] if raw and raw[0] < 0x7F else None
    index = _GAS_INDEX.get(kind)
    if index is None:
        raise ValueError(f"unknown transaction type 0x{raw[0]:02x}")
    items = rlp.decode(raw if kind is None else raw[1:])
    return int.from_bytes(items[index], "big")


__all__ = ["gas_limit"]
