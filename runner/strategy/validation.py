"""Values people write, validated with pydantic, with errors that say expected/found.

Strategy parameters and scenario files (``harness.scenario``) are written in one syntax:
exact numbers (``10_000``, ``0.5``: never a float), percentages (``5%`` or the fraction
``0.05``), bounded counts, names and choices. It is defined here, below both, because
the runner must not depend on the harness that drives it.

Every error any of these types or models raises is a ``PydanticCustomError`` of type
``expected`` whose context holds ``expected`` (what a valid value looks like), optionally
``found`` (when the input itself would not say it, like ``nothing (key missing)``) and
``suggestion`` (a close spelling). ``StrictModel`` translates pydantic's own errors
(missing keys, unknown keys, wrong types) into the same form as they leave each model,
so a caller renders every problem the same way: ``KEY: expected ..., found ...``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from enum import Enum
from types import NoneType, UnionType
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    NamedTuple,
    TypeVar,
    Union,
    get_args,
    get_origin,
)

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError
from pydantic_core import core_schema as cs

__all__ = [
    "AMOUNT_HELP",
    "AMOUNT_PATTERN",
    "DEPENDENT",
    "EXPECTED",
    "MAX_DIGITS",
    "PERCENT_HELP",
    "PERCENT_PATTERN",
    "Amount",
    "AmountSyntax",
    "Bool",
    "Choice",
    "Int",
    "IntSyntax",
    "Issue",
    "AsTuple",
    "Percent",
    "PercentSign",
    "PercentSyntax",
    "Problem",
    "QuantityError",
    "Range",
    "StrictModel",
    "Syntax",
    "Text",
    "TextSyntax",
    "closest",
    "dependent",
    "expected",
    "expected_text",
    "format_decimal",
    "format_percent",
    "issues",
    "parse_amount",
    "parse_percent",
    "raise_problems",
]

EXPECTED = "expected"
"""The error type of every problem reported by these types and models."""

DEPENDENT = "dependent"
"""A value that cannot be checked because another one failed (its error says why)."""

MAX_DIGITS = 30
"""Numbers have at most this many digits before and after the decimal point."""

AMOUNT_PATTERN = r"^[+-]?(?:\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?|\.\d+)(?:[eE][+-]?\d+)?$"
"""A decimal number written as text, ``_`` allowed between digit groups."""

PERCENT_PATTERN = r"^[+-]?(?:\d+(?:_\d+)*(?:\.\d+)?|\.\d+) ?%$"
"""A number followed by ``%``: ``0.30%``, ``+1%``, ``-30%``."""

AMOUNT_HELP = "an amount like 10_000 or 0.5"
PERCENT_HELP = "a percentage like +1% or -30%"

_AMOUNT = re.compile(AMOUNT_PATTERN)
_PERCENT = re.compile(PERCENT_PATTERN)
_MAX_TEXT = 200  # characters of a number's text worth parsing at all

T = TypeVar("T")


# -- errors --------------------------------------------------------------------------------


def expected(what: str, *, found: str | None = None, suggestion: str | None = None) -> PydanticCustomError:
    """The one error these validators raise: what a valid value looks like."""
    context: dict[str, Any] = {"expected": what}
    if found is not None:
        context["found"] = found
    if suggestion is not None:
        context["suggestion"] = suggestion
    return PydanticCustomError(EXPECTED, "expected {expected}", context)


def dependent() -> PydanticCustomError:
    """Raised where a check needs a value that failed elsewhere; callers drop it."""
    return PydanticCustomError(DEPENDENT, "depends on a value that is invalid")


class Problem(NamedTuple):
    """A rule spanning several fields, reported at one of them (``()`` for the mapping).

    ``found`` None lets the caller show the value as written; ``suggestion`` is a spelling.
    """

    loc: tuple[str | int, ...]
    expected: str
    found: str | None = None
    suggestion: str | None = None


def raise_problems(title: str, problems: Iterable[Problem], data: Any = None) -> None:
    """Raise one ValidationError carrying every problem, each at its own location."""
    details = [
        InitErrorDetails(type=expected(p.expected, found=p.found, suggestion=p.suggestion), loc=p.loc, input=data)
        for p in problems
    ]
    if details:
        raise ValidationError.from_exception_data(title, details)


class Issue(NamedTuple):
    """One problem as a caller renders it: ``loc: expected ..., found ...``."""

    loc: tuple[str | int, ...]
    expected: str
    found: str | None
    suggestion: str | None
    input: Any


def issues(error: ValidationError) -> list[Issue]:
    """The problems of a ValidationError; dependent ones (already explained) are dropped."""
    result: list[Issue] = []
    for detail in error.errors(include_url=False):
        if detail["type"] == DEPENDENT:
            continue
        context = detail.get("ctx") or {}
        what = context.get("expected") if detail["type"] == EXPECTED else None
        result.append(
            Issue(
                tuple(detail["loc"]),
                str(what) if what is not None else detail["msg"],
                context.get("found"),
                context.get("suggestion"),
                detail.get("input"),
            )
        )
    return result


def closest(value: object, choices: Iterable[str]) -> str | None:
    """The one close spelling worth suggesting, if any."""
    if not isinstance(value, str):
        return None
    matches = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


class QuantityError(ValueError):
    """A value is not the quantity a field wants; ``expected`` finishes "expected ..."."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


# -- numbers as written ------------------------------------------------------------------


def _is_number(value: object) -> bool:
    """Ints and Decimals count as numbers; bools (an int subclass) never do."""
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _bounded(number: Decimal, help_text: str) -> Decimal:
    """Refuse what no amount means and what would blow up later (``1e-999999999``)."""
    if not number.is_finite():
        raise QuantityError(help_text)
    if number:
        _, digits, exponent = number.as_tuple()
        last = len(digits) - len("".join(map(str, digits)).rstrip("0"))  # trailing zeros
        if number.adjusted() >= MAX_DIGITS or int(exponent) + last < -MAX_DIGITS:
            raise QuantityError(f"{help_text} (at most {MAX_DIGITS} digits before and after the point)")
    return number


def parse_amount(value: object, help_text: str = AMOUNT_HELP) -> Decimal:
    """An int, a Decimal or a numeric string (``10_000``, ``2_000_000.5``) -> Decimal."""
    if _is_number(value):
        assert isinstance(value, int | Decimal)
        if isinstance(value, int) and abs(value) >= 10**MAX_DIGITS:
            raise QuantityError(f"{help_text} (at most {MAX_DIGITS} digits before and after the point)")
        return _bounded(Decimal(value), help_text)
    if isinstance(value, str) and len(value) <= _MAX_TEXT and _AMOUNT.fullmatch(value.strip()):
        try:
            return _bounded(Decimal(value.strip().replace("_", "")), help_text)
        except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
            raise QuantityError(help_text) from None
    raise QuantityError(help_text)


def parse_percent(value: object, *, sign_required: bool = False, help_text: str = PERCENT_HELP) -> Decimal:
    """``0.30%`` -> 0.003, ``-30%`` -> -0.3; a bare number is already a fraction.

    With ``sign_required`` only ``%`` strings are accepted, for fields where a bare number
    means something else (a withdrawal of 50% of shares versus 50 shares).
    """
    if isinstance(value, str) and len(value) <= _MAX_TEXT and _PERCENT.fullmatch(value.strip()):
        number = value.strip()[:-1].strip().replace("_", "")
        return _bounded(Decimal(number), help_text).scaleb(-2)
    if not sign_required:
        try:
            return parse_amount(value, help_text)
        except QuantityError:
            pass
    raise QuantityError(help_text)


def format_decimal(value: Decimal | int) -> str:
    """Plain positional notation without exponent or trailing zeros (``1E+1`` -> ``10``).
    Exact however many digits: `normalize()` rounds to the context's 28 digits, which wrote
    2**96 base units of a 24-decimal token (29 digits) rounded up, past the bound the
    message states (fuzz seed 4 run 52)."""
    d = Decimal(value)
    text = f"{d.normalize(Context(prec=max(28, len(d.as_tuple().digits)))):f}"
    return "0" if text in ("-0", "+0") else text


def format_percent(fraction: Decimal) -> str:
    """0.003 -> ``0.3%``; used to print bounds in error messages and schema text."""
    return f"{format_decimal(fraction.scaleb(2))}%"


# -- scalar syntaxes as Annotated metadata --------------------------------------------------

_SYNTAX = "syntax"  # core-schema metadata key: the Syntax a schema validates with


class Syntax:
    """How one kind of scalar is written: parsed by ``parse``, described by ``expected``.

    Used as ``Annotated[T, SomeSyntax()]``: it replaces pydantic's own validation of T
    (strict by construction: a bool is never an int, a number never a string) and its
    JSON Schema describes the value as a person writes it.
    """

    expected: str = "a value"
    noun: str = "value"
    """Finishes bound phrases: "a positive amount", "a percentage >= 0% and < 10%"."""

    def parse(self, value: Any, info: ValidationInfo) -> Any:
        """The typed value; raises QuantityError (or a PydanticCustomError) otherwise."""
        raise NotImplementedError

    def show(self, bound: Any) -> str:
        """A bound as written in messages."""
        return str(bound)

    def json_schema(self) -> JsonSchemaValue:
        """The schema of the value as written."""
        return {}

    def json_default(self, value: Any) -> Any:
        """A default as an author would write it (JSON has no Decimal)."""
        return value

    def _validate(self, value: Any, info: ValidationInfo) -> Any:
        try:
            return self.parse(value, info)
        except QuantityError as exc:
            raise expected(exc.expected) from None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return cs.with_info_plain_validator_function(self._validate, metadata={_SYNTAX: self})

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return self.json_schema()


@dataclass(frozen=True)
class AmountSyntax(Syntax):
    """``10_000``, ``0.5``, ``"2_000_000.5"``: an exact Decimal."""

    expected: str = AMOUNT_HELP
    noun: str = "amount"

    def parse(self, value: Any, info: ValidationInfo) -> Decimal:
        return parse_amount(value, self.expected)

    def show(self, bound: Any) -> str:
        return format_decimal(bound)

    def json_schema(self) -> JsonSchemaValue:
        return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": AMOUNT_PATTERN}]}

    def json_default(self, value: Any) -> Any:
        return int(value) if value == int(value) else format_decimal(value)


@dataclass(frozen=True)
class PercentSyntax(Syntax):
    """``0.30%`` or the fraction ``0.003``; with ``sign_required`` only the ``%`` form."""

    expected: str = PERCENT_HELP
    noun: str = "percentage"
    sign_required: bool = False

    def parse(self, value: Any, info: ValidationInfo) -> Decimal:
        if self.sign_required and isinstance(value, Decimal):
            return value  # a value built in Python; the loader only routes % strings here
        return parse_percent(value, sign_required=self.sign_required, help_text=self.expected)

    def show(self, bound: Any) -> str:
        return format_percent(Decimal(bound))

    def json_schema(self) -> JsonSchemaValue:
        if self.sign_required:
            return {"type": "string", "pattern": PERCENT_PATTERN}
        written = f"{PERCENT_PATTERN}|{AMOUNT_PATTERN}"
        return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": written}]}

    def json_default(self, value: Any) -> Any:
        return format_percent(value)


@dataclass(frozen=True)
class IntSyntax(Syntax):
    """A whole number; never a bool, never a string of digits."""

    expected: str = "an integer"
    noun: str = "integer"

    def parse(self, value: Any, info: ValidationInfo) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise QuantityError(self.expected)

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "integer"}


@dataclass(frozen=True)
class BoolSyntax(Syntax):
    """Only true and false (``yes`` stays a string)."""

    expected: str = "true or false"

    def parse(self, value: Any, info: ValidationInfo) -> bool:
        if isinstance(value, bool):
            return value
        raise QuantityError(self.expected)

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "boolean"}


@dataclass(frozen=True)
class TextSyntax(Syntax):
    """A string, bounded in length, optionally matching a pattern (``expected`` says how)."""

    expected: str = "a string"
    pattern: str | None = None
    min_length: int = 0
    max_length: int = 1_000

    def parse(self, value: Any, info: ValidationInfo) -> str:
        if not isinstance(value, str):
            raise QuantityError(self.expected)
        if len(value) < self.min_length:
            raise QuantityError("a non-empty string" if self.min_length == 1 else self.expected)
        if len(value) > self.max_length:
            raise QuantityError(f"{self.expected} of at most {self.max_length} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise QuantityError(self.expected)
        return value

    def json_schema(self) -> JsonSchemaValue:
        schema: JsonSchemaValue = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.pattern:
            schema["pattern"] = self.pattern
        return schema


@dataclass(frozen=True)
class Choice:
    """One of a vocabulary's words (a StrEnum, or some of its members), by exact spelling.

    The field holds the enum member, which equals its string: consumers compare with
    plain strings and the YAML spelling is the enum's value.
    """

    words: tuple[Enum, ...]

    @classmethod
    def of(cls, vocabulary: type[Enum] | Iterable[Enum]) -> Choice:
        return cls(tuple(vocabulary))

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(repr(word.value) for word in self.words)

    def _validate(self, value: Any) -> Enum:
        for word in self.words:
            if isinstance(value, str) and value == word.value:
                return word
        raise expected(self.expected, suggestion=closest(value, [str(w.value) for w in self.words]))

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return cs.no_info_plain_validator_function(self._validate)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"enum": [word.value for word in self.words]}


@dataclass(frozen=True)
class Range:
    """Bounds of a number, a percentage or a duration, checked after its syntax.

    ``Annotated[Amount, Range(gt=0)]`` refuses ``-5`` with "expected a positive amount";
    the phrase names every bound at once ("a percentage >= 0% and < 10%"). A misspelt
    bound is a TypeError when the model is defined, never silently ignored.
    """

    ge: Any = None
    gt: Any = None
    le: Any = None
    lt: Any = None
    nonzero: bool = False

    def holds(self, value: Any) -> bool:
        return not (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
            or (self.nonzero and not value)
        )

    def phrase(self, syntax: Syntax | None) -> str:
        """"a positive amount", "a percentage >= 0% and < 10%", "a non-zero amount"."""
        noun = syntax.noun if syntax is not None else "value"
        show: Callable[[Any], str] = syntax.show if syntax is not None else str
        words = ["non-zero"] if self.nonzero else []
        conditions: list[str] = []
        one_sided = self.le is None and self.lt is None
        if one_sided and self.ge is None and self.gt is not None and not self.gt:
            words.append("positive")
        elif one_sided and self.gt is None and self.ge is not None and not self.ge:
            words.append("non-negative")
        else:
            for operator, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt)):
                if bound is not None:
                    conditions.append(f"{operator} {show(bound)}")
        phrase = " ".join([*words, noun])
        article = "an" if phrase[0] in "aeiou" else "a"
        tail = " " + " and ".join(conditions) if conditions else ""
        return f"{article} {phrase}{tail}"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        inner = handler(source)
        metadata = inner.get("metadata") or {}
        message = self.phrase(metadata.get(_SYNTAX))

        def check(value: Any) -> Any:
            if value is not None and not self.holds(value):
                raise expected(message)
            return value

        return cs.no_info_after_validator_function(check, inner, metadata=dict(metadata))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        result = handler(schema)
        bounds = {
            keyword: int(bound)
            for keyword, bound in (
                ("minimum", self.ge),
                ("exclusiveMinimum", self.gt),
                ("maximum", self.le),
                ("exclusiveMaximum", self.lt),
            )
            if isinstance(bound, int | Decimal) and bound == int(bound)
        }
        for branch in result.get("anyOf", [result]):
            if branch.get("type") in ("number", "integer"):
                branch.update(bounds)
        return result


Amount = Annotated[Decimal, AmountSyntax()]
"""An exact amount: ``10_000``, ``0.5``, ``"2_000_000.5"``."""

Percent = Annotated[Decimal, PercentSyntax()]
"""A fraction written as a percentage (``0.30%``) or as the fraction itself (``0.003``)."""

PercentSign = Annotated[Decimal, PercentSyntax(expected="a percentage like 50%", sign_required=True)]
"""A percentage that must carry its ``%`` (where a bare number means something else)."""

Int = Annotated[int, IntSyntax()]
Bool = Annotated[bool, BoolSyntax()]


def Text(  # noqa: N802 - reads as a type in annotations
    expected: str = "a string", *, pattern: str | None = None, min_length: int = 0, max_length: int = 1_000
) -> TextSyntax:
    """``Annotated[str, Text(...)]``: a bounded string (every string a person writes is)."""
    return TextSyntax(expected, pattern, min_length, max_length)


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


AsTuple = BeforeValidator(_as_tuple)
"""``Annotated[tuple[X, ...], Len(...), AsTuple]``: a YAML list held as a tuple (frozen
models hold nothing mutable); bounds go before it, so they apply to the tuple itself."""


# -- what a type looks like, for messages ------------------------------------------------


def field_type(field: FieldInfo) -> Any:
    """A field's annotation with its metadata put back (pydantic splits them)."""
    if field.metadata:
        return Annotated[(field.annotation, *field.metadata)]  # type: ignore[valid-type]
    return field.annotation


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    metadata: list[Any] = []
    while get_origin(tp) is Annotated:
        tp, *extra = get_args(tp)
        metadata = [*extra, *metadata]
    return tp, metadata


def _non_none(tp: Any) -> list[Any]:
    if get_origin(tp) in (Union, UnionType):
        return [arg for arg in get_args(tp) if arg is not NoneType]
    return [tp]


def expected_text(tp: Any) -> str:
    """What a valid value of this type looks like, to finish "expected ..."."""
    inner, metadata = _unwrap(tp)
    for item in reversed(metadata):
        text = getattr(item, "expected", None)
        if isinstance(text, str):
            return text
    options = _non_none(inner)
    if len(options) > 1:
        return " or ".join(expected_text(option) for option in options)
    inner = options[0]
    origin = get_origin(inner)
    if inner is Any:
        return "any value"
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(inner))
    if isinstance(inner, type) and issubclass(inner, Enum):
        return Choice.of(inner).expected
    if origin in (tuple, list) or inner in (tuple, list):
        return "a list"
    if origin in (dict, Mapping) or inner is dict:
        return "a mapping"
    if isinstance(inner, type) and issubclass(inner, StrictModel):
        return inner.expected_text()
    names = {str: "a string", bool: "true or false", int: "an integer", Decimal: "a number"}
    return names.get(inner, "a valid value")


def _type_at(tp: Any, loc: Sequence[str | int]) -> Any:
    """The type of the value at ``loc`` inside a value of type ``tp`` (containers only)."""
    for step in loc:
        inner, _ = _unwrap(tp)
        options = _non_none(inner)
        inner = options[0] if len(options) == 1 else inner
        origin, args = get_origin(inner), get_args(inner)
        if origin in (tuple, list) and args:
            tp = args[0]
        elif origin in (dict, Mapping) and len(args) == 2:
            tp = args[0] if step == "[key]" else args[1]
        else:
            return tp
    return tp


# -- the base model ----------------------------------------------------------------------

_SIZE_ERRORS = {"too_short", "too_long"}
_SKIPPED = type(SkipJsonSchema())  # the marker of fields the loader fills, never written


def _json_extra(schema: dict[str, Any], cls: type[StrictModel]) -> None:
    """A null list or mapping means its default; a class's ``json_rule`` joins its schema."""
    properties = schema.get("properties", {})
    for name in cls._null_is_default():
        prop = properties.get(cls.renamed.get(name, name))
        if prop is not None:
            keep = {key: prop.pop(key) for key in ("title", "description", "default") if key in prop}
            properties[cls.renamed.get(name, name)] = {**keep, "anyOf": [dict(prop), {"type": "null"}]}
    schema.update(cls.json_rule)


class StrictModel(BaseModel):
    """Frozen, unknown keys refused, every error translated to expected/found on the way out.

    Subclasses add rules spanning fields in ``problems()`` (and say them to JSON Schema in
    ``json_rule``); ``renamed`` maps a field to the key it is written under when they differ.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True, json_schema_extra=_json_extra  # type: ignore[typeddict-item]
    )

    renamed: ClassVar[Mapping[str, str]] = {}
    json_rule: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def yaml_keys(cls) -> list[str]:
        """The keys a person writes, in declaration order (loader-filled fields are not)."""
        keys = [
            cls.renamed.get(name, name)
            for name, field in cls.model_fields.items()
            if not any(isinstance(item, _SKIPPED) for item in field.metadata)
        ]
        return list(dict.fromkeys(keys))

    @classmethod
    def expected_text(cls) -> str:
        return f"a mapping with keys {', '.join(cls.yaml_keys())}"

    def problems(self, context: Any) -> Iterator[Problem]:
        """Rules spanning several fields, each naming the field to change; ``context`` is
        the validation context (what the caller checks references against), or None."""
        return iter(())

    @classmethod
    def _null_is_default(cls) -> frozenset[str]:
        """Lists and mappings with a default: ``timeline:`` with every entry commented out."""
        names = cls.__dict__.get("_null_names")
        if names is None:
            names = frozenset(
                name
                for name, field in cls.model_fields.items()
                if not field.is_required()
                and get_origin(_unwrap(field.annotation)[0]) in (tuple, dict, list)
            )
            cls._null_names = names  # type: ignore[attr-defined]
        return names  # type: ignore[no-any-return]

    @model_validator(mode="wrap")
    @classmethod
    def _translate_errors(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        if isinstance(data, Mapping):
            nulls = cls._null_is_default()
            data = {key: value for key, value in data.items() if not (value is None and key in nulls)}
        try:
            model = handler(data)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(
                cls.__name__, [cls._translate(detail) for detail in exc.errors(include_url=False)]
            ) from None
        raise_problems(cls.__name__, model.problems(info.context), data)
        return model

    @classmethod
    def _translate(cls, detail: Any) -> InitErrorDetails:
        kind, loc, value = detail["type"], tuple(detail["loc"]), detail.get("input")
        field = cls.model_fields.get(str(loc[0])) if loc else None
        if loc and loc[0] in cls.renamed:
            loc = (cls.renamed[str(loc[0])], *loc[1:])
        if kind in (EXPECTED, DEPENDENT):
            error = PydanticCustomError(kind, detail["msg"], detail.get("ctx") or {})
            return InitErrorDetails(type=error, loc=loc, input=value)
        if not loc:
            error = expected(cls.expected_text())
        elif kind == "extra_forbidden" and len(loc) == 1:
            name = str(loc[0])
            hint = closest(name, cls.yaml_keys())
            found = f"unknown key {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
            error = expected(f"one of the keys {', '.join(cls.yaml_keys())}", found=found)
        else:
            tp = _type_at(field_type(field), loc[1:]) if field is not None else Any
            if kind == "missing":
                error = expected(expected_text(tp), found="nothing (key missing)")
            elif kind in _SIZE_ERRORS:
                error = _size_error(kind, detail.get("ctx") or {}, value)
            else:
                error = expected(expected_text(tp))
        return InitErrorDetails(type=error, loc=loc, input=value)


def _size_error(kind: str, context: Mapping[str, Any], value: Any) -> PydanticCustomError:
    noun = "mapping" if isinstance(value, Mapping) else "list"
    count = len(value) if isinstance(value, Sized) else 0
    if kind == "too_short":
        low = int(context.get("min_length", 1))
        wanted = f"a non-empty {noun}" if low == 1 else f"a {noun} of at least {low} items"
        found = f"an empty {noun}" if not count else f"a {noun} of {count}"
    else:
        wanted = f"a {noun} of at most {int(context.get('max_length', 0))} items"
        found = f"a {noun} of {count} items"
    return expected(wanted, found=found)

