"""A StrategyRunner for live DeFi trading, built to be driven deterministically.

Public names are imported lazily, so `import runner` stays cheap for tools that only
need a part of it (the CLI's --help imports nothing of the chain).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ChainStrategyRunner": "runner.runner",
    "StrategyRunner": "runner.strategy_runner",
    "State": "runner.state",
    "StateStore": "runner.state",
    "Universe": "runner.universe",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
