"""The model's bounds, read from the model itself, so generated values never outgrow it.

A field's `Range(...)` lives in its annotation (``Annotated[Percent, Range(gt=-1, le=10)]``);
`field_range` finds it, and `clamp` keeps a drawn value inside it. The named limits
(MAX_UNITS, MIN_POOL_UNITS, ...) are imported from `harness.scenario.model` where needed.
Nothing here copies a number the model states.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from runner.strategy.validation import Choice, Range


class BoundsError(LookupError):
    """A field the generator relies on has no Range (the model changed under it)."""


def _metadata(tp: Any) -> list[Any]:
    found: list[Any] = []
    if get_origin(tp) is Annotated:
        inner, *extra = get_args(tp)
        found.extend(extra)
        found.extend(_metadata(inner))
    else:
        for arg in get_args(tp):
            found.extend(_metadata(arg))
    return found


def _field_metadata(model: type[BaseModel], name: str) -> list[Any]:
    field = model.model_fields[name]
    return [*field.metadata, *_metadata(field.annotation)]


def field_range(model: type[BaseModel], name: str) -> Range:
    """The Range a model declares for a field (looking inside Optional and Annotated)."""
    for item in _field_metadata(model, name):
        if isinstance(item, Range):
            return item
    raise BoundsError(f"{model.__name__}.{name} declares no Range")


def field_choices(model: type[BaseModel], name: str) -> tuple[str, ...]:
    """The values a Choice field accepts, in the model's own order."""
    for item in _field_metadata(model, name):
        if isinstance(item, Choice):
            return tuple(str(v.value if isinstance(v, Enum) else v) for v in item.words)
    raise BoundsError(f"{model.__name__}.{name} declares no Choice")


def clamp(value: Decimal, bounds: Range, step: Decimal) -> Decimal:
    """`value` moved inside `bounds` (exclusive bounds by one `step`), non-zero if required."""
    low = bounds.ge if bounds.ge is not None else (bounds.gt + step if bounds.gt is not None else None)
    high = bounds.le if bounds.le is not None else (bounds.lt - step if bounds.lt is not None else None)
    if low is not None and value < low:
        value = Decimal(low)
    if high is not None and value > high:
        value = Decimal(high)
    if bounds.nonzero and not value:
        value = step
    return value


__all__ = ["BoundsError", "clamp", "field_choices", "field_range"]
