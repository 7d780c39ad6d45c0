"""The runner's read of Uniswap v3 pools: everything its exact tick math (v3math) needs.

For each pool: slot0 (price, tick), the in-range liquidity, fee and spacing, and the
`liquidityNet` of every initialised tick, found by scanning the whole tick bitmap, so
nothing about how liquidity was added is assumed and a quote never steps outside the
data (v3math raises TickDataMissing rather than guess). Three batched reads for all the
pools of a cycle: the headers, the bitmap words (through the Multicall's aggregate3,
a few thousand words per eth_call), the ticks found.

Three things keep this cheap enough to do every cycle:
- Only the bitmap words within WINDOW_WORDS of the current tick's are read at first (a
  word spans 256 tick spacings: x1.29 in price at the 0.05% tier, x4.6 at 0.3%); the
  state knows its window, a quote that would step outside raises TickDataMissing, and
  the pricing then reads that pool's whole bitmap (`full_pool_state`) and quotes again.
- States are cached by block hash: a block's state never changes, and the cycle's
  several pricing questions (pre-trade check, strategy, revaluation) ask at the same
  block. A reorg gives another hash, so nothing stale is ever served. The cache belongs
  to the chain client (one per run), so how many requests a run sends never depends on
  what ran before it in the process (node faults are armed by request count).
- The hundreds of bitmap calls are encoded and decoded here by hand (aggregate3's
  `(address,bool,bytes)[]` and `(bool,bytes)[]`), not by the generic ABI codec, which
  costs ~0.25 ms per element in Python: more than the EVM takes to run them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from weakref import WeakKeyDictionary

from runner.chain.abi import artifact
from runner.chain.backend import Call
from runner.chain.client import ChainClient
from runner.models.v3math import MAX_TICK, MIN_TICK, PoolState

POOL = "uniswap/UniswapV3Pool"
#: Calls per aggregate3 eth_call: ~100 kB of calldata and ~2M gas of cold reads, under
#: any node's request size and call gas caps (anvil refuses a 1.5 MB JSON-RPC batch).
CALLS_PER_READ = 500
#: Bitmap words read on each side of the current tick's word at first.
WINDOW_WORDS = 2
#: Pool states kept (by pool and block hash): a few cycles of a large universe.
CACHE_SIZE = 256

_caches: WeakKeyDictionary[ChainClient, OrderedDict[tuple[bytes, bytes], PoolState]] = WeakKeyDictionary()


def read_pool_states(chain: ChainClient, pools: Sequence[bytes], multicall: bytes, *,
                     cached: bool = True) -> dict[bytes, PoolState]:
    """The state of every pool in `pools` at the head block (`cached`: from this client's
    cache when it read them at this block already)."""
    if not pools:
        return {}
    head = chain.block_number()
    if not cached:
        return _read(chain, pools, multicall, head, WINDOW_WORDS)
    block_hash = chain.backend.block_hash(head)
    cache = _caches.setdefault(chain, OrderedDict())
    out: dict[bytes, PoolState] = {}
    missing: list[bytes] = []
    for pool in pools:
        known = cache.get((pool, block_hash)) if block_hash else None
        if known is None:
            missing.append(pool)
        else:
            out[pool] = known
    if missing:
        fresh = _read(chain, missing, multicall, head, WINDOW_WORDS)
        out.update(fresh)
        if block_hash:
            for pool, state in fresh.items():
                cache[(pool, block_hash)] = state
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
    return {pool: out[pool] for pool in pools}


def full_pool_state(chain: ChainClient, pool: bytes, multicall: bytes, *, cached: bool = True) -> PoolState:
    """The pool's state at the head with its whole tick bitmap (a quote left the window)."""
    head = chain.block_number()
    state = _read(chain, [pool], multicall, head, None)[pool]
    block_hash = chain.backend.block_hash(head) if cached else None
    if block_hash:
        _caches.setdefault(chain, OrderedDict())[(pool, block_hash)] = state
    return state


def read_pool_window(chain: ChainClient, pool: bytes, multicall: bytes, radius: int | None) -> PoolState:
    """One pool's state at the head, uncached, with the bitmap words within `radius` words
    of the current tick's word (None: the whole bitmap)."""
    return _read(chain, [pool], multicall, chain.block_number(), radius)[pool]


def _read(chain: ChainClient, pools: Sequence[bytes], multicall: bytes, block: int,
          radius: int | None) -> dict[bytes, PoolState]:
    p = artifact(POOL)
    heads = chain.read_many([(pool, fn, ()) for pool in pools
                             for fn in (p.fn("slot0"), p.fn("liquidity"), p.fn("fee"), p.fn("tickSpacing"))], block)
    bitmap_sel, tick_fn = p.fn("tickBitmap").selector, p.fn("ticks")
    headers = []
    word_calls: list[tuple[bytes, bytes]] = []
    for i, pool in enumerate(pools):
        slot0, liquidity, fee, spacing = heads[4 * i:4 * i + 4]
        spacing = int(spacing)
        first, last = (MIN_TICK // spacing) >> 8, (MAX_TICK // spacing) >> 8
        window: tuple[int, int] | None = None
        if radius is not None:
            here = (int(slot0[1]) // spacing) >> 8
            first, last = max(first, here - radius), min(last, here + radius)
            window = (first, last)
        words = list(range(first, last + 1))
        headers.append((pool, slot0, int(liquidity), int(fee), spacing, words, window))
        word_calls += [(pool, bitmap_sel + _int_word(w)) for w in words]
    bitmaps = iter(_aggregate(chain, multicall, word_calls, block))
    tick_calls: list[tuple[bytes, bytes]] = []
    found: list[list[int]] = []
    for pool, _slot0, _liq, _fee, spacing, words, _window in headers:
        ticks = []
        for word in words:
            bits = int.from_bytes(next(bitmaps), "big")
            while bits:
                low = bits & -bits
                ticks.append(((word << 8) + low.bit_length() - 1) * spacing)
                bits ^= low
        found.append(ticks)
        tick_calls += [(pool, tick_fn.selector + _int_word(t)) for t in ticks]
    nets = iter(_aggregate(chain, multicall, tick_calls, block))
    out = {}
    for (pool, slot0, liquidity, fee, spacing, _words, window), ticks in zip(headers, found, strict=True):
        # ticks(int24) returns (uint128 liquidityGross, int128 liquidityNet, ...): the second word
        liquidity_net = {t: int.from_bytes(next(nets)[32:64], "big", signed=True) for t in ticks}
        out[pool] = PoolState(int(slot0[0]), int(slot0[1]), liquidity, fee, spacing, liquidity_net, window)
    return out


def _int_word(value: int) -> bytes:
    """One ABI word of a signed integer (int16 word positions, int24 ticks)."""
    return value.to_bytes(32, "big", signed=True)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def encode_aggregate3(calls: Sequence[tuple[bytes, bytes]]) -> bytes:
    """Calldata of Multicall.aggregate3(Call3[] calls), every call with allowFailure false:
    the head (offset of the array), its length, one offset per element (from the start
    of the elements), then each element: target, false, offset of its bytes (0x60),
    their length and the bytes padded to whole words."""
    selector = artifact("Multicall").fn("aggregate3").selector
    offsets, bodies, at = [], [], 32 * len(calls)
    for target, data in calls:
        padded = data + b"\x00" * (-len(data) % 32)
        body = b"\x00" * 12 + target + _word(0) + _word(0x60) + _word(len(data)) + padded
        offsets.append(_word(at))
        bodies.append(body)
        at += len(body)
    return selector + _word(0x20) + _word(len(calls)) + b"".join(offsets) + b"".join(bodies)


def decode_aggregate3(raw: bytes) -> list[bytes]:
    """Each Result's returnData from aggregate3's `(bool success, bytes returnData)[]`."""
    start = int.from_bytes(raw[0:32], "big")
    count = int.from_bytes(raw[start:start + 32], "big")
    base = start + 32
    out = []
    for i in range(count):
        element = base + int.from_bytes(raw[base + 32 * i:base + 32 * i + 32], "big")
        data_at = element + int.from_bytes(raw[element + 32:element + 64], "big")
        length = int.from_bytes(raw[data_at:data_at + 32], "big")
        out.append(raw[data_at + 32:data_at + 32 + length])
    return out


def _aggregate(chain: ChainClient, multicall: bytes, calls: list[tuple[bytes, bytes]], block: int) -> list[bytes]:
    """Raw return data of each (target, calldata), through Multicall.aggregate3."""
    if not calls:
        return []
    chunks = [calls[i:i + CALLS_PER_READ] for i in range(0, len(calls), CALLS_PER_READ)]
    out: list[bytes] = []
    for chunk in chunks:  # one request each: a batch of them would be one huge request
        chain.reads += 1
        [raw] = chain.backend.call_many([Call(multicall, encode_aggregate3(chunk))], block)
        out.extend(decode_aggregate3(raw))
    return out
