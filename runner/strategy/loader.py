"""Strategies are plain modules with a `decide_trades` function; this loads one."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


class StrategyLoadError(ImportError):
    pass


DecideTrades = Callable[..., list[Any]]


def load_strategy(module: str) -> ModuleType:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise StrategyLoadError(f"cannot import strategy module {module!r}: {exc}") from None
    if not callable(getattr(mod, "decide_trades", None)):
        raise StrategyLoadError(f"strategy module {module!r} has no decide_trades(timestamp, universe, state, pricing, parameters)")
    return mod
