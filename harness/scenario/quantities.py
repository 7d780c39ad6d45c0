"""Parsing and printing of the human quantities a scenario is written in.

Durations (``1d12h``), times (ISO-8601 with a zone, or an offset from ``clock.start``),
amounts (``2_000_000.5``) and percentages (``-30%``) each have one parser here. Parsers take
the already typed YAML value (see yamlnodes: never a float) and raise QuantityError, which
only says what was expected: the decoder knows the file, line and key and adds them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

__all__ = [
    "AMOUNT_PATTERN",
    "DATETIME_PATTERN",
    "DURATION_PATTERN",
    "PERCENT_PATTERN",
    "QuantityError",
    "format_datetime",
    "format_decimal",
    "format_duration",
    "format_percent",
    "parse_amount",
    "parse_datetime",
    "parse_duration",
    "parse_percent",
    "parse_time",
]

DURATION_PATTERN = r"^(?=\d)(?:\d+w)?\s?(?:\d+d)?\s?(?:\d+h)?\s?(?:\d+m)?\s?(?:\d+s)?$"
"""Units w d h m s, each at most once, largest first, optionally one space apart."""

AMOUNT_PATTERN = r"^[+-]?(?:\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?|\.\d+)(?:[eE][+-]?\d+)?$"
"""A decimal number written as text, ``_`` allowed between digit groups."""

PERCENT_PATTERN = r"^[+-]?(?:\d+(?:_\d+)*(?:\.\d+)?|\.\d+) ?%$"
"""A number followed by ``%``: ``0.30%``, ``+1%``, ``-30%``."""

DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$"
"""ISO-8601 date and time with a zone (``Z`` or ``+HH:MM``); used by the JSON Schema."""

_DURATION = re.compile(
    r"(?=\d)(?:(?P<w>\d+)w)?\s?(?:(?P<d>\d+)d)?\s?(?:(?P<h>\d+)h)?\s?(?:(?P<m>\d+)m)?\s?"
    r"(?:(?P<s>\d+)s)?"
)
_AMOUNT = re.compile(AMOUNT_PATTERN)
_PERCENT = re.compile(PERCENT_PATTERN)
_LOOKS_LIKE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNIT_SECONDS = (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))

DURATION_HELP = "a duration like 90s, 15m, 1d12h"
AMOUNT_HELP = "an amount like 10_000 or 0.5"
PERCENT_HELP = "a percentage like +1% or -30%"
DATETIME_HELP = "a datetime with a timezone like 2024-01-01T00:00:00Z"
TIME_HELP = "a time like 1d12h (after clock.start) or 2024-01-02T00:00:00Z"


class QuantityError(ValueError):
    """A value is not the quantity a field wants; ``expected`` finishes "expected ..."."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _is_number(value: object) -> bool:
    """Ints and Decimals count as numbers; bools (an int subclass) never do."""
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def parse_duration(value: object) -> timedelta:
    """``90s``, ``15m``, ``1d12h``, ``2w``, ``1d 6h`` or a whole number of seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match is not None:
            seconds = sum(int(match[unit] or 0) * size for unit, size in _UNIT_SECONDS)
            return timedelta(seconds=seconds)
    raise QuantityError(DURATION_HELP)


def parse_datetime(value: object) -> datetime:
    """An ISO-8601 datetime that names its zone, returned in UTC.

    Naive datetimes are refused: a scenario replayed on another machine must mean the
    same instant.
    """
    if not isinstance(value, str) or not _LOOKS_LIKE_DATE.match(value.strip()):
        raise QuantityError(DATETIME_HELP)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise QuantityError(DATETIME_HELP) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise QuantityError("a datetime with a timezone")
    return parsed.astimezone(UTC)


def parse_time(value: object) -> datetime | timedelta:
    """Either an absolute datetime or a duration offset; the caller anchors it to start."""
    if isinstance(value, str) and _LOOKS_LIKE_DATE.match(value.strip()):
        return parse_datetime(value)
    try:
        return parse_duration(value)
    except QuantityError:
        raise QuantityError(TIME_HELP) from None


def parse_amount(value: object) -> Decimal:
    """An int, a Decimal or a numeric string (``10_000``, ``2_000_000.5``) -> Decimal."""
    if _is_number(value):
        assert isinstance(value, int | Decimal)
        return Decimal(value)
    if isinstance(value, str) and _AMOUNT.fullmatch(value.strip()):
        return Decimal(value.strip().replace("_", ""))
    raise QuantityError(AMOUNT_HELP)


def parse_percent(value: object, *, sign_required: bool = False) -> Decimal:
    """``0.30%`` -> 0.003, ``-30%`` -> -0.3; a bare number is already a fraction.

    With ``sign_required`` only ``%`` strings are accepted, for fields where a bare number
    means something else (a withdrawal of 50% of shares versus 50 shares).
    """
    if isinstance(value, str) and _PERCENT.fullmatch(value.strip()):
        number = value.strip()[:-1].strip().replace("_", "")
        return Decimal(number).scaleb(-2)
    if not sign_required:
        try:
            return parse_amount(value)
        except QuantityError:
            pass
    raise QuantityError(PERCENT_HELP)


def format_decimal(value: Decimal | int) -> str:
    """Plain positional notation without exponent or trailing zeros (``1E+1`` -> ``10``)."""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text in ("-0", "+0") else text


def format_percent(fraction: Decimal) -> str:
    """0.003 -> ``0.3%``; used to print bounds in error messages and schema text."""
    return f"{format_decimal(fraction.scaleb(2))}%"


def format_duration(value: timedelta) -> str:
    """timedelta(days=1, hours=12) -> ``1d12h``; zero is ``0s``; sub-seconds are dropped."""
    seconds = int(value.total_seconds())
    if seconds < 0:
        return "-" + format_duration(-value)
    parts: list[str] = []
    for unit, size in _UNIT_SECONDS[1:]:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_datetime(value: datetime) -> str:
    """An aware datetime as ``2024-01-01T00:00:00Z`` (UTC)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
