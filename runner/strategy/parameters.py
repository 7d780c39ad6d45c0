"""Typed strategy parameters: each strategy module declares ``class Parameters``.

A strategy's parameters are a frozen pydantic model (``StrategyParameters``): every field
has a description, a unit and a default, numbers parse exactly (``5%`` and ``0.05`` are
the same fraction), and an unknown name is an error with a suggestion instead of being
silently ignored. ``decide_trades`` receives the validated instance, never a dict.

    validate_parameters(Parameters, {"cash_buffer": "5%"}) -> Parameters(cash_buffer=0.05, ...)
    with_override(params, "tolerance", "1%")               -> a new instance, validated
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from types import ModuleType
from typing import Annotated, Any, NamedTuple, TypeVar

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo

from runner.strategy.validation import (
    Issue,
    PercentSyntax,
    StrictModel,
    Text,
    closest,
    expected,
    format_decimal,
    format_percent,
    issues,
)

__all__ = [
    "Asset",
    "Fraction",
    "NoParameters",
    "ParameterError",
    "ParameterRow",
    "StrategyParameters",
    "parameter",
    "parameter_table",
    "parameters_class",
    "render_parameter_table",
    "validate_parameters",
    "with_override",
]

P = TypeVar("P", bound="StrategyParameters")


def parameter(default: Any, description: str, *, unit: str, shown_default: str | None = None) -> Any:
    """A parameter field: its default, one sentence for people, and the unit it is in."""
    extra: dict[str, str] = {"unit": unit}
    if shown_default is not None:
        extra["shown_default"] = shown_default
    return Field(default, description=description, json_schema_extra=extra)  # type: ignore[arg-type]


class StrategyParameters(StrictModel):
    """Base of every strategy's ``Parameters``: frozen, unknown names refused, documented.

    A subclass whose field lacks a description or a unit is refused when it is defined,
    so the README's table (``render_parameter_table``) can always be generated.
    """

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if not field.description or "unit" not in extra:
                raise TypeError(f"{cls.__qualname__}.{name} needs a description and a unit: use parameter()")

    @classmethod
    def expected_text(cls) -> str:
        return f"a mapping of parameters ({', '.join(cls.model_fields) or 'none'})"


class NoParameters(StrategyParameters):
    """What a strategy module without a ``Parameters`` class takes: nothing."""


def _asset(value: str, info: ValidationInfo) -> str:
    """A token the strategy can trade, when the caller says which (``assets`` context)."""
    assets = info.context.get("assets") if isinstance(info.context, Mapping) else None
    if assets is None or value in assets:
        return value
    names = ", ".join(assets) or "none"
    raise expected(f"a token the strategy trades ({names})", suggestion=closest(value, assets))


Asset = Annotated[str, Text("a token symbol", max_length=64), AfterValidator(_asset)]
"""A token symbol; checked against the universe's tradeable tokens when they are known."""

Fraction = Annotated[Decimal, PercentSyntax(expected="a percentage like 5% or a fraction like 0.05")]
"""A share of something, written ``5%`` or ``0.05`` (the same value)."""


class ParameterError(ValueError):
    """Parameters that do not validate; ``issues`` locate each problem (``loc`` from the name)."""

    def __init__(self, problems: list[Issue]) -> None:
        super().__init__(problems)
        self.issues = problems

    def __str__(self) -> str:
        lines = []
        for issue in self.issues:
            key = ".".join(str(part) for part in issue.loc if part != "[key]")
            found = issue.found if issue.found is not None else (repr(issue.input) if isinstance(issue.input, str) else str(issue.input))
            hint = f" (did you mean {issue.suggestion!r}?)" if issue.suggestion else ""
            lines.append(f"parameters.{key}: expected {issue.expected}, found {found}{hint}")
        return "\n".join(lines)


def parameters_class(module: ModuleType) -> type[StrategyParameters]:
    """The module's ``Parameters`` (a StrategyParameters subclass), or NoParameters."""
    cls = getattr(module, "Parameters", NoParameters)
    if not (isinstance(cls, type) and issubclass(cls, StrategyParameters)):
        raise TypeError(f"{module.__name__}.Parameters is not a StrategyParameters subclass")
    return cls


def validate_parameters(cls: type[P], values: Mapping[str, Any], *, assets: Collection[str] | None = None) -> P:
    """``values`` (as written: strings, Decimals, ints) as a validated ``cls`` instance.

    ``assets``, when given, are the tokens the strategy can trade: parameters naming a
    token (``weights``) are checked against them.
    """
    try:
        return cls.model_validate(dict(values), context={"assets": assets})
    except ValidationError as exc:
        raise ParameterError(issues(exc)) from None


def with_override(params: P, name: str, value: Any, *, assets: Collection[str] | None = None) -> P:
    """``params`` with one parameter changed (a set_parameter event), validated whole."""
    cls = type(params)
    if name not in cls.model_fields:
        names = ", ".join(cls.model_fields) or "none"
        raise ParameterError([Issue((name,), f"a parameter ({names})", f"unknown parameter {name!r}",
                                    closest(name, list(cls.model_fields)), name)])
    return validate_parameters(cls, {**dict(params), name: value}, assets=assets)


class ParameterRow(NamedTuple):
    """One parameter as the README documents it."""

    name: str
    unit: str
    default: str
    description: str


def _shown(value: Any, unit: str) -> str:
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        return format_percent(value) if "fraction" in unit else format_decimal(value)
    return str(value)


def parameter_table(cls: type[StrategyParameters]) -> list[ParameterRow]:
    """Every parameter with its unit, default and description, in declaration order."""
    rows = []
    for name, field in cls.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        unit = str(extra["unit"])
        default = str(extra.get("shown_default") or _shown(field.get_default(call_default_factory=True), unit))
        rows.append(ParameterRow(name, unit, default, field.description or ""))
    return rows


def render_parameter_table(cls: type[StrategyParameters]) -> str:
    """The markdown table of ``parameter_table`` (the README embeds it verbatim)."""
    lines = ["| parameter | unit | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{r.name}` | {r.unit} | {r.default} | {r.description} |" for r in parameter_table(cls)]
    return "\n".join(lines)
