"""Strategies are plain modules with ``decide_trades`` and a ``Parameters`` class; this loads one.

``load_strategy`` is the one way a strategy is imported, by ``harness check`` and by the
run alike. It returns a module whose ``decide_trades`` takes the parameters as the runner
holds them (a mapping of values as written, overrides included) and hands the strategy's
own ``decide_trades`` the validated ``Parameters`` instance.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from runner.strategy.parameters import StrategyParameters, parameters_class, validate_parameters

__all__ = ["SIGNATURE", "StrategyLoadError", "load_strategy"]

SIGNATURE = "decide_trades(timestamp, universe, state, pricing, parameters)"


class StrategyLoadError(ImportError):
    """The module cannot be imported, or is not a strategy; ``reason`` says which."""

    def __init__(self, module: str, reason: str) -> None:
        super().__init__(f"strategy module {module!r}: {reason}")
        self.module = module
        self.reason = reason


DecideTrades = Callable[..., list[Any]]


class _Typed:
    """``decide_trades`` fed a validated Parameters instance (revalidated only on change)."""

    def __init__(self, decide: DecideTrades, cls: type[StrategyParameters]) -> None:
        self.decide = decide
        self.cls = cls
        self._last: tuple[dict[str, Any], StrategyParameters] | None = None

    def __call__(self, timestamp: Any, universe: Any, state: Any, pricing: Any, parameters: Any) -> list[Any]:
        return self.decide(timestamp, universe, state, pricing, self.typed(parameters))

    def typed(self, parameters: Any) -> StrategyParameters:
        if isinstance(parameters, self.cls):
            return parameters
        values = dict(parameters) if isinstance(parameters, Mapping) else dict(parameters or {})
        if self._last is None or self._last[0] != values:
            self._last = (values, validate_parameters(self.cls, values))
        return self._last[1]


def load_strategy(module: str) -> ModuleType:
    """Import ``module`` and return it as the runner calls it (see the module docstring)."""
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # a strategy that fails to import for any reason is not loadable
        raise StrategyLoadError(module, f"cannot import it: {type(exc).__name__}: {exc}") from None
    decide = getattr(mod, "decide_trades", None)
    if not callable(decide):
        raise StrategyLoadError(module, f"it has no {SIGNATURE}")
    try:
        cls = parameters_class(mod)
    except TypeError as exc:
        raise StrategyLoadError(module, str(exc)) from None
    loaded = ModuleType(mod.__name__, mod.__doc__)
    loaded.__dict__.update({k: v for k, v in vars(mod).items() if not k.startswith("__")})
    loaded.decide_trades = _Typed(decide, cls)  # type: ignore[attr-defined]
    loaded.Parameters = cls  # type: ignore[attr-defined]
    loaded.__wrapped__ = mod  # type: ignore[attr-defined]
    return loaded
