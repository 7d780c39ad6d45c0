"""Scenario documents written as scenario files, in the bundled scenarios' style.

Top-level keys in block style, each world item and timeline entry on one flow-style line
(`- {at: 1d, price_shock: {pair: WETH/USDC, move: -30%}}`), amounts as exact decimals,
durations as `1d12h`, header lines as `#` comments. The same document always gives the
same bytes: keys in the document's own (deterministic, insertion) order, no floats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from harness.scenario.quantities import format_duration
from runner.strategy.validation import format_decimal

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+\-]*$|^[+\-]?\d[\d.]*%$|^\d+[wdhms][\dwdhms]*$|^\d{4}-\d{2}-\d{2}T[\d:]+Z$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(value: Any) -> str:
    """One value as a YAML scalar the scenario loader reads back to the same thing."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _RESERVED:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write a {type(value).__name__} in a scenario file")


def flow(value: Any) -> str:
    """A value in flow style: `{a: 1, b: [x, y]}`."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{scalar(str(k))}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _block(key: str, value: Any, indent: str = "") -> Iterable[str]:
    if isinstance(value, Mapping) and key in ("universe",):
        yield f"{indent}{key}:"
        for k, v in value.items():
            yield from _block(str(k), v, indent + "  ")
    elif isinstance(value, (list, tuple)) and value and key in ("pools", "timeline", "expect"):
        yield f"{indent}{key}:"
        for item in value:
            yield f"{indent}  - {flow(item)}"
    elif key == "description" and isinstance(value, str):
        yield f"{indent}{key}: {json.dumps(value, ensure_ascii=False)}"
    else:
        yield f"{indent}{key}: {flow(value)}"


def render(doc: Mapping[str, Any], header: Sequence[str] = ()) -> str:
    """The scenario file of a document, with `header` lines as leading comments."""
    lines = [f"# {line}".rstrip() for text in header for line in text.splitlines()]
    for key, value in doc.items():
        lines.extend(_block(key, value))
    return "\n".join(lines) + "\n"


__all__ = ["flow", "render", "scalar"]
