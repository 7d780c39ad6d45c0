"""The runner's read of Uniswap v3 pools: everything its exact tick math (v3math) needs.

For each pool: slot0 (price, tick), the in-range liquidity, fee and spacing, and the
`liquidityNet` of every initialised tick, found by scanning the whole tick bitmap, so
nothing about how liquidity was added is assumed and a quote never steps outside the
data (v3math raises TickDataMissing rather than guess). Three batched reads for all the
pools of a cycle: the headers, the bitmap words (through the Multicall's aggregate3,
a few thousand words per eth_call), the ticks found.
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.models.v3math import MAX_TICK, MIN_TICK, PoolState

POOL = "uniswap/UniswapV3Pool"
#: Calls per aggregate3 eth_call: about 6M gas of cold reads, well under any node's call cap.
CALLS_PER_READ = 1500


def read_pool_states(chain: ChainClient, pools: Sequence[bytes], multicall: bytes,
                     block: int | None = None) -> dict[bytes, PoolState]:
    """The state of every pool in `pools` at `block` (the head by default)."""
    if not pools:
        return {}
    p = artifact(POOL)
    heads = chain.read_many([(pool, fn, ()) for pool in pools
                             for fn in (p.fn("slot0"), p.fn("liquidity"), p.fn("fee"), p.fn("tickSpacing"))], block)
    bitmap_fn, tick_fn = p.fn("tickBitmap"), p.fn("ticks")
    headers = []
    word_calls: list[tuple[bytes, bytes]] = []
    for i, pool in enumerate(pools):
        slot0, liquidity, fee, spacing = heads[4 * i:4 * i + 4]
        spacing = int(spacing)
        words = list(range((MIN_TICK // spacing) >> 8, ((MAX_TICK // spacing) >> 8) + 1))
        headers.append((pool, slot0, int(liquidity), int(fee), spacing, words))
        word_calls += [(pool, bitmap_fn.encode(w)) for w in words]
    bitmaps = iter(_aggregate(chain, multicall, word_calls, block))
    tick_calls: list[tuple[bytes, bytes]] = []
    found: list[list[int]] = []
    for pool, _slot0, _liq, _fee, spacing, words in headers:
        ticks = []
        for word in words:
            bits = int(bitmap_fn.decode_one(next(bitmaps)))
            while bits:
                low = bits & -bits
                ticks.append(((word << 8) + low.bit_length() - 1) * spacing)
                bits ^= low
        found.append(ticks)
        tick_calls += [(pool, tick_fn.encode(t)) for t in ticks]
    nets = iter(_aggregate(chain, multicall, tick_calls, block))
    out = {}
    for (pool, slot0, liquidity, fee, spacing, _words), ticks in zip(headers, found, strict=True):
        liquidity_net = {t: int(tick_fn.decode(next(nets))[1]) for t in ticks}
        out[pool] = PoolState(int(slot0[0]), int(slot0[1]), liquidity, fee, spacing, liquidity_net)
    return out


def _aggregate(chain: ChainClient, multicall: bytes, calls: list[tuple[bytes, bytes]],
               block: int | None) -> list[bytes]:
    """Raw return data of each (target, calldata), through Multicall.aggregate3."""
    if not calls:
        return []
    aggregate = artifact("Multicall").fn("aggregate3")
    out: list[bytes] = []
    chunks = [calls[i:i + CALLS_PER_READ] for i in range(0, len(calls), CALLS_PER_READ)]
    results = chain.read_many([(multicall, aggregate, ([(t, False, c) for t, c in chunk],)) for chunk in chunks],
                              block)
    for result in results:
        out.extend(bytes(data) for _ok, data in result)
    return out
