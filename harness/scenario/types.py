"""The value types of the scenario format, as reusable ``Annotated`` pydantic types.

Quantities (``Duration``, ``DateTime``, ``TimeOffset``, plus the runner's ``Amount`` and
``Percent``) parse what a person writes and describe it in the JSON Schema; names
(``Symbol``, ``PairName``...) bound and pattern-check strings; references (``TokenRef``,
``PoolRef``, ``InvestorRef``...) check a name against the document's ``Facts``.

Facts are gathered from the document before it is validated (model.gather_facts) and
reach every validator as the validation context. A fact whose own value is invalid is
missing, so the checks that need it raise ``dependent()`` (dropped) instead of piling
follow-on errors onto the one that matters; without a context (a model built in
Python) references are not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

from pydantic import AfterValidator, PlainValidator, ValidationInfo, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue

from harness.scenario import quantities as q
from harness.vocabulary import BackendName
from runner.strategy.validation import Syntax, Text, closest, dependent, expected

__all__ = [
    "MAX_NAME",
    "Address",
    "DateTime",
    "Duration",
    "DurationSyntax",
    "DateTimeSyntax",
    "Facts",
    "InvestorRef",
    "ModulePath",
    "Name",
    "PairName",
    "PlainValue",
    "PoolRef",
    "RebasingTokenRef",
    "SinceStart",
    "SourceInfo",
    "Symbol",
    "TimeOffset",
    "TimeSyntax",
    "TokenRef",
    "UntilOffset",
    "WhenOrEnd",
    "When",
    "facts_of",
    "listing",
]

MAX_NAME = 64
"""Symbols, investor and parameter names, module paths: at most this many characters."""


@dataclass(frozen=True)
class SourceInfo:
    """Where a scenario came from, so reports and snapshots can name the exact input."""

    path: str
    sha256: str


@dataclass
class Facts:
    """What a document's values are checked against; ``None`` where that value is invalid."""

    source: SourceInfo = field(default_factory=lambda: SourceInfo("<memory>", ""))
    max_instants: int = 0
    forks: tuple[Path, ...] = ()
    """Scenario files being loaded through fork_url, outermost first (cycles are refused)."""
    start: datetime | None = None
    until: timedelta | None = None
    tokens: Mapping[str, Any] | None = None
    reserve: str | None = None
    pools: tuple[Any, ...] | None = None
    investors: tuple[str, ...] | None = None
    backend: BackendName | None = None
    strategy: ModuleType | None = None
    strategy_error: str | None = None
    parameters: Any = None
    """The strategy's validated Parameters instance (set_parameter events override it)."""
    load_history: Callable[[Path, tuple[Path, ...], int], str | None] | None = None
    """How a fork_url's history scenario is loaded (the loader's own function, handed in so
    the model never imports the loader that imports it)."""


def facts_of(info: ValidationInfo) -> Facts | None:
    """The document's facts, or None when a model is built in Python (no references checked)."""
    context = info.context
    return context if isinstance(context, Facts) else None


def listing(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(names) if names else "none is declared"


# -- quantities ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DurationSyntax(Syntax):
    """``90s``, ``15m``, ``1d12h``, ``2w`` or whole seconds, at most a century."""

    expected: str = q.DURATION_HELP
    noun: str = "duration"

    def parse(self, value: Any, info: ValidationInfo) -> timedelta:
        if isinstance(value, timedelta):
            return value
        return q.parse_duration(value)

    def show(self, bound: Any) -> str:
        return q.format_duration(bound)

    def json_schema(self) -> JsonSchemaValue:
        return {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": q.DURATION_PATTERN}]}

    def json_default(self, value: Any) -> Any:
        return q.format_duration(value)


@dataclass(frozen=True)
class DateTimeSyntax(Syntax):
    """An ISO-8601 datetime naming its zone, held in UTC."""

    expected: str = q.DATETIME_HELP
    noun: str = "datetime"

    def parse(self, value: Any, info: ValidationInfo) -> datetime:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        return q.parse_datetime(value)

    def show(self, bound: Any) -> str:
        return q.format_datetime(bound)

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "string", "pattern": q.DATETIME_PATTERN}


@dataclass(frozen=True)
class TimeSyntax(Syntax):
    """An offset after clock.start, an absolute datetime (made an offset), or ``end``."""

    expected: str = q.TIME_HELP
    noun: str = "time"
    allow_end: bool = False

    def parse(self, value: Any, info: ValidationInfo) -> timedelta:
        if isinstance(value, timedelta):
            return value
        facts = facts_of(info)
        if self.allow_end and value == "end":
            if facts is None or facts.until is None:
                raise dependent()
            return facts.until
        try:
            parsed = q.parse_time(value)
        except q.QuantityError as exc:
            if self.allow_end and exc.expected == q.TIME_HELP:
                raise q.QuantityError(self.expected) from None
            raise
        if isinstance(parsed, datetime):
            if facts is None or facts.start is None:
                raise dependent()
            parsed = parsed - facts.start
        if abs(parsed) > q.MAX_DURATION:
            raise q.QuantityError(f"a time within {q.format_duration(q.MAX_DURATION)} of clock.start")
        return parsed

    def show(self, bound: Any) -> str:
        return q.format_duration(bound)

    def json_schema(self) -> JsonSchemaValue:
        options: list[JsonSchemaValue] = [
            *DurationSyntax().json_schema()["anyOf"],
            {"type": "string", "pattern": q.DATETIME_PATTERN},
        ]
        if self.allow_end:
            options.append({"const": "end"})
        return {"anyOf": options}


def _not_before_start(value: timedelta, info: ValidationInfo) -> timedelta:
    """An absolute time before clock.start would be a negative offset."""
    facts = facts_of(info)
    if value < timedelta(0) and facts is not None and facts.start is not None:
        raise expected(f"a time not before clock.start ({q.format_datetime(facts.start)})")
    return value


def _after_start(value: timedelta, info: ValidationInfo) -> timedelta:
    """A run must last some time."""
    facts = facts_of(info)
    if value <= timedelta(0) and facts is not None and facts.start is not None:
        raise expected(f"a time after clock.start ({q.format_datetime(facts.start)})")
    return value


def _not_after_until(value: timedelta, info: ValidationInfo) -> timedelta:
    """Nothing can happen, or be checked, once the run has stopped."""
    facts = facts_of(info)
    if facts is not None and facts.until is not None and value > facts.until:
        raise expected(f"a time not after clock.until ({q.format_duration(facts.until)})")
    return value


Duration = Annotated[timedelta, DurationSyntax()]
DateTime = Annotated[datetime, DateTimeSyntax()]
TimeOffset = Annotated[timedelta, TimeSyntax()]
UntilOffset = Annotated[timedelta, TimeSyntax(), AfterValidator(_after_start)]
SinceStart = Annotated[timedelta, TimeSyntax(), AfterValidator(_not_before_start)]
"""An instant of the run: not before clock.start."""
When = Annotated[
    timedelta, TimeSyntax(), AfterValidator(_not_before_start), AfterValidator(_not_after_until)
]
"""When an event happens: within [clock.start, clock.until]."""
WhenOrEnd = Annotated[
    timedelta,
    TimeSyntax(expected=f"{q.TIME_HELP} or end", allow_end=True),
    AfterValidator(_not_before_start),
    AfterValidator(_not_after_until),
]
"""When an expectation is checked; ``end`` is clock.until."""


# -- names ----------------------------------------------------------------------------------

Symbol = Annotated[
    str,
    Text(
        "a token symbol (letters, digits, '.', '_' or '-')",
        pattern=r"[A-Za-z0-9][A-Za-z0-9._-]*",
        max_length=MAX_NAME,
    ),
]
Name = Annotated[
    str,
    Text("a name like alice (letters, digits, '_' or '-')", pattern=r"[A-Za-z_][A-Za-z0-9_-]*", max_length=MAX_NAME),
]
PairName = Annotated[str, Text("a pair like WETH/USDC", pattern=r"[^/\s]+/[^/\s]+", max_length=2 * MAX_NAME + 1)]
ModulePath = Annotated[
    str,
    Text(
        "a dotted module path like runner.strategies.rebalance",
        pattern=r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*",
        max_length=200,
    ),
]
Address = Annotated[str, Text("an address like 0x + 40 hex digits", pattern=r"0x[0-9a-fA-F]{40}", max_length=42)]


def _plain(value: Any) -> Any:
    """A YAML value as plain dicts and lists (sizes are bounded by the node layer)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


PlainValue = Annotated[Any, PlainValidator(_plain), WithJsonSchema({})]
"""Any YAML value, held as plain dicts, lists and scalars (numbers are Decimals)."""


# -- references ------------------------------------------------------------------------------


def _token_of_universe(value: str, info: ValidationInfo) -> str:
    """The symbol must be a key of ``universe.tokens``."""
    facts = facts_of(info)
    if facts is None or facts.tokens is None or value in facts.tokens:
        return value
    tokens = list(facts.tokens)
    raise expected(f"a token of the universe ({listing(tokens)})", suggestion=closest(value, tokens))


def _rebasing_token(value: str, info: ValidationInfo) -> str:
    """Rebase and interest events only make sense on a token declared ``rebasing: true``."""
    facts = facts_of(info)
    if facts is None or facts.tokens is None:
        return value
    rebasing = [symbol for symbol, token in facts.tokens.items() if token.rebasing]
    if value in rebasing:
        return value
    if value in facts.tokens:
        raise expected(f"a rebasing token ({listing(rebasing)}; set rebasing: true on {value})")
    raise expected(
        f"a rebasing token of the universe ({listing(rebasing)})", suggestion=closest(value, rebasing)
    )


def _pool_of_universe(value: str, info: ValidationInfo) -> str:
    """Pairs are matched exactly as declared: ``USDC/WETH`` is not the pool ``WETH/USDC``."""
    facts = facts_of(info)
    if facts is None or facts.pools is None:
        return value
    pairs = [pool.pair for pool in facts.pools]
    if value in pairs:
        return value
    base, _, quote = value.partition("/")
    flipped = f"{quote}/{base}" if f"{quote}/{base}" in pairs else None
    raise expected(f"a pool of the universe ({listing(pairs)})", suggestion=flipped or closest(value, pairs))


def _investor(value: str, info: ValidationInfo) -> str:
    """``by`` must name one of ``investors``."""
    facts = facts_of(info)
    if facts is None or facts.investors is None or value in facts.investors:
        return value
    investors = facts.investors
    raise expected(f"an investor ({listing(investors)})", suggestion=closest(value, investors))


TokenRef = Annotated[str, Text("a token symbol", max_length=MAX_NAME), AfterValidator(_token_of_universe)]
RebasingTokenRef = Annotated[str, Text("a token symbol", max_length=MAX_NAME), AfterValidator(_rebasing_token)]
PoolRef = Annotated[str, Text("a pair like WETH/USDC", max_length=2 * MAX_NAME + 1), AfterValidator(_pool_of_universe)]
InvestorRef = Annotated[str, Text("an investor name", max_length=MAX_NAME), AfterValidator(_investor)]
