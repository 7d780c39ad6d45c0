"""Routing: which pools a trade in an asset goes through, from and to the reserve."""

from __future__ import annotations

from collections import deque
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


class RoutingModel:
    """Shortest path over the universe's pools; computed once per universe."""

    def __init__(self, universe: Universe, max_hops: int = 3) -> None:
        self.universe = universe
        self._paths: dict[str, tuple[Token, ...]] = {}
        self._pools: dict[tuple[bytes, bytes], Pool] = {}
        adjacency: dict[str, list[tuple[str, Pool]]] = {s: [] for s in universe.tokens}
        for pool in universe.pools.values():
            adjacency[pool.base.symbol].append((pool.quote.symbol, pool))
            adjacency[pool.quote.symbol].append((pool.base.symbol, pool))
            self._pools[(pool.base.address, pool.quote.address)] = pool
            self._pools[(pool.quote.address, pool.base.address)] = pool
        start = universe.reserve.symbol
        parents: dict[str, str] = {start: start}
        queue = deque([start])
        while queue:
            cur = queue.popleft()
            for nxt, _ in adjacency[cur]:
                if nxt not in parents:
                    parents[nxt] = cur
                    queue.append(nxt)
        for symbol in universe.tokens:
            if symbol == start or symbol not in parents:
                continue
            path = [symbol]
            while path[-1] != start:
                path.append(parents[path[-1]])
            if len(path) - 1 <= max_hops:
                self._paths[symbol] = tuple(universe.tokens[s] for s in reversed(path))

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
