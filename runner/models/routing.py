"""Routing: which pools a trade in an asset goes through, from and to the reserve."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from runner.universe import Pool, Token, Universe


class NoRoute(LookupError):
    pass


@dataclass
class RoutingState:
    """Per-cycle routing data; rebuilt by `setup_routing()` each tick."""

    universe: Universe
    quotes_cached: int = 0
    notes: list[str] = field(default_factory=list)


def shortest_paths(start: str, symbols: Iterable[str], pairs: Iterable[tuple[str, str]],
                   max_hops: int = 3) -> dict[str, tuple[str, ...]]:
    """start -> ... -> symbol for each symbol reachable in at most `max_hops` over the
    pairs (base, quote; either way), breadth first in the pairs' order. The runner's
    routes, and the routes a test world's vault values holdings along (the same path)."""
    adjacency: dict[str, list[str]] = {s: [] for s in symbols}
    for base, quote in pairs:
        adjacency[base].append(quote)
        adjacency[quote].append(base)
    parents: dict[str, str] = {start: start}
    queue = deque([start])
    while queue:
        cur = queue.popleft()
        for nxt in adjacency[cur]:
            if nxt not in parents:
                parents[nxt] = cur
                queue.append(nxt)
    out: dict[str, tuple[str, ...]] = {}
    for symbol in adjacency:
        if symbol == start or symbol not in parents:
            continue
        path = [symbol]
        while path[-1] != start:
            path.append(parents[path[-1]])
        if len(path) - 1 <= max_hops:
            out[symbol] = tuple(reversed(path))
    return out


class RoutingModel:
    """Shortest path over the universe's pools; computed once per universe."""

    def __init__(self, universe: Universe, max_hops: int = 3) -> None:
        self.universe = universe
        self._pools: dict[tuple[bytes, bytes], Pool] = {}
        for pool in universe.pools.values():
            self._pools[(pool.base.address, pool.quote.address)] = pool
            self._pools[(pool.quote.address, pool.base.address)] = pool
        paths = shortest_paths(universe.reserve.symbol, universe.tokens,
                               ((p.base.symbol, p.quote.symbol) for p in universe.pools.values()), max_hops)
        self._paths: dict[str, tuple[Token, ...]] = {
            symbol: tuple(universe.tokens[s] for s in path) for symbol, path in paths.items()}

    def has_route(self, asset: str) -> bool:
        return asset in self._paths

    def buy_path(self, asset: str) -> tuple[Token, ...]:
        """reserve -> ... -> asset"""
        try:
            return self._paths[asset]
        except KeyError:
            raise NoRoute(f"no route from {self.universe.reserve.symbol} to {asset}") from None

    def sell_path(self, asset: str) -> tuple[Token, ...]:
        return tuple(reversed(self.buy_path(asset)))

    def pool_between(self, a: Token, b: Token) -> Pool:
        return self._pools[(a.address, b.address)]

    def pools_on(self, path: tuple[Token, ...]) -> list[Pool]:
        return [self._pools[(a.address, b.address)] for a, b in zip(path, path[1:], strict=False)]

    def setup(self) -> RoutingState:
        return RoutingState(self.universe)
