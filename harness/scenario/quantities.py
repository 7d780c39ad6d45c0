"""Parsing and printing of the human quantities a scenario is written in.

Durations (``1d12h``) and times (ISO-8601 with a zone, or an offset from ``clock.start``)
have one parser each here; amounts (``2_000_000.5``) and percentages (``-30%``) are the
runner's syntax (``runner.strategy.validation``), shared with strategy parameters and
re-exported. Parsers take the already typed YAML value (see yamlnodes: never a float) and
raise QuantityError, which only says what was expected: the loader knows the file, line
and key and adds them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from runner.strategy.validation import (
    AMOUNT_HELP,
    AMOUNT_PATTERN,
    PERCENT_HELP,
    PERCENT_PATTERN,
    QuantityError,
    format_decimal,
    format_percent,
    parse_amount,
    parse_percent,
)

__all__ = [
    "AMOUNT_HELP",
    "AMOUNT_PATTERN",
    "DATETIME_HELP",
    "DATETIME_PATTERN",
    "DURATION_HELP",
    "DURATION_PATTERN",
    "EARLIEST_START",
    "LATEST_START",
    "MAX_DURATION",
    "PERCENT_HELP",
    "PERCENT_PATTERN",
    "QuantityError",
    "TIME_HELP",
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

DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$"
"""ISO-8601 date and time with a zone (``Z`` or ``+HH:MM``); used by the JSON Schema."""

MAX_DURATION = timedelta(days=36_525)
"""No duration or offset exceeds a century: far past any run, far below timedelta's range."""

EARLIEST_START = datetime(1971, 1, 1, tzinfo=UTC)
LATEST_START = datetime(2100, 1, 1, tzinfo=UTC)
"""clock.start lies in [1971, 2100): the chain's genesis follows it, and block timestamps
before the epoch or past uint32-era tooling are not worth simulating."""

_DURATION = re.compile(
    r"(?=\d)(?:(?P<w>\d{1,20})w)?\s?(?:(?P<d>\d{1,20})d)?\s?(?:(?P<h>\d{1,20})h)?\s?"
    r"(?:(?P<m>\d{1,20})m)?\s?(?:(?P<s>\d{1,20})s)?"
)
_LOOKS_LIKE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNIT_SECONDS = (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))

DURATION_HELP = "a duration like 90s, 15m, 1d12h"
DATETIME_HELP = "a datetime with a timezone like 2024-01-01T00:00:00Z"
TIME_HELP = "a time like 1d12h (after clock.start) or 2024-01-02T00:00:00Z"


def parse_duration(value: object) -> timedelta:
    """``90s``, ``15m``, ``1d12h``, ``2w``, ``1d 6h`` or a whole number of seconds, <= MAX_DURATION."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        seconds = value
    elif isinstance(value, str) and len(value) <= 64:
        match = _DURATION.fullmatch(value.strip())
        if match is not None:
            seconds = sum(int(match[unit] or 0) * size for unit, size in _UNIT_SECONDS)
    if seconds is None:
        raise QuantityError(DURATION_HELP)
    if seconds > MAX_DURATION.total_seconds():
        raise QuantityError(f"a duration of at most {format_duration(MAX_DURATION)}")
    return timedelta(seconds=seconds)


def parse_datetime(value: object) -> datetime:
    """An ISO-8601 datetime that names its zone, returned in UTC.

    Naive datetimes are refused: a scenario replayed on another machine must mean the
    same instant.
    """
    if not isinstance(value, str) or len(value) > 64 or not _LOOKS_LIKE_DATE.match(value.strip()):
        raise QuantityError(DATETIME_HELP)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise QuantityError(DATETIME_HELP) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise QuantityError("a datetime with a timezone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC instant
        raise QuantityError(DATETIME_HELP) from None


def parse_time(value: object) -> datetime | timedelta:
    """Either an absolute datetime or a duration offset; the caller anchors it to start."""
    if isinstance(value, str) and _LOOKS_LIKE_DATE.match(value.strip()):
        return parse_datetime(value)
    try:
        return parse_duration(value)
    except QuantityError as exc:
        if exc.expected == DURATION_HELP:
            raise QuantityError(TIME_HELP) from None
        raise


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
