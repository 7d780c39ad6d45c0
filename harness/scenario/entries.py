"""Keyed entries: ``{at: 2d, price_shock: {pair: WETH/USDC, move: -30%}}``.

A timeline event or an expectation is written as the family's base keys (``at``) plus
exactly one *kind* key whose value holds the kind's own fields (or, for kinds with a
``shorthand`` field, that field's value alone). The model holds it flat
(``PriceShockEvent(at=..., pair=..., move=...)``), with the entry's source line.

A kind is one class: defining a subclass of a family (Event, Expectation) with a
``kind`` registers it, and the union, its JSON Schema and the template's catalogue are
all read from the registry, so nothing else needs to change to add one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError, ValidationInfo
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError
from pydantic_core import core_schema as cs

from runner.strategy.validation import DEPENDENT, EXPECTED, StrictModel, closest, expected

__all__ = ["DEF_MARK", "Entry", "Kinds", "field_of", "first_paragraph"]

DEF_MARK = "x-def"
"""Marks a kind's body schema for schema.py to move into ``$defs`` under this name."""


def first_paragraph(cls: type) -> str:
    """A class docstring's first paragraph on one line (schema and template text)."""
    paragraph = (cls.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(paragraph.split())


class Entry(StrictModel):
    """Base of the entry families; a family root declares ``kinds = {}`` and ``noun``."""

    kind: ClassVar[str] = ""
    noun: ClassVar[str] = "kind"
    kinds: ClassVar[dict[str, type[Entry]]] = {}
    shorthand: ClassVar[str | None] = None
    """The field a non-mapping value fills: ``crash: broadcast``."""
    example: ClassVar[str] = ""
    """The kind's value as written in the template's catalogue (YAML flow text)."""
    live: ClassVar[bool] = False
    """Whether the catalogue example runs in ``harness new``'s scenario or is a comment."""
    example_at: ClassVar[str] = "1d"
    from_facts: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    """Fields whose default comes from the document (``by``: the first investor)."""

    line: SkipJsonSchema[int] = 0

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "kinds" in cls.__dict__ or not cls.kind:
            return  # a family root, or an abstract intermediate
        if cls.kind in cls.kinds:
            raise TypeError(f"two {cls.noun}s named {cls.kind!r}: {cls.kinds[cls.kind].__name__}, {cls.__name__}")
        if not cls.example or not cls.__doc__:
            raise TypeError(f"{cls.__name__} needs a docstring and an example for the template")
        cls.kinds[cls.kind] = cls

    @classmethod
    def family(cls) -> type[Entry]:
        """The family root (Event or Expectation) this kind belongs to."""
        return next(base for base in cls.__mro__ if "kinds" in base.__dict__)  # type: ignore[no-any-return]

    @classmethod
    def own_keys(cls) -> list[str]:
        """The keys inside the kind's value (the family's keys are outside)."""
        outer = cls.family().yaml_keys()
        return [key for key in cls.yaml_keys() if key not in outer]

    @classmethod
    def entry_expected(cls) -> str:
        root = cls.family()
        return f"a mapping with {', '.join(root.yaml_keys())} and one {root.noun} ({', '.join(root.kinds)})"


def field_of(model: type[Entry], key: str) -> str:
    """The field a written key fills: itself, or the field ``renamed`` writes under it
    (``external_tx.from`` fills ``sender``: ``from`` is no Python name)."""
    if key in model.model_fields:
        return key
    return next(name for name, written in model.renamed.items() if written == key)


def _error(loc: tuple[str | int, ...], what: str, found: str | None = None, data: Any = None) -> InitErrorDetails:
    return InitErrorDetails(type=expected(what, found=found), loc=loc, input=data)


def _unknown(key: str, allowed: list[str]) -> str:
    hint = closest(key, allowed)
    return f"unknown key {key!r}" + (f" (did you mean {hint!r}?)" if hint else "")


def _relocated(errors: list[Any], where: Callable[[tuple[str | int, ...]], tuple[str | int, ...] | None]) -> list[InitErrorDetails]:
    """Translated errors of a kind's model, moved to where their keys are written."""
    moved: list[InitErrorDetails] = []
    for detail in errors:
        loc = where(tuple(detail["loc"]))
        if loc is None:
            continue
        kind = detail["type"] if detail["type"] in (EXPECTED, DEPENDENT) else EXPECTED
        context = detail.get("ctx") or {"expected": detail["msg"]}
        error = PydanticCustomError(kind, "expected {expected}" if kind == EXPECTED else detail["msg"], context)
        moved.append(InitErrorDetails(type=error, loc=loc, input=detail.get("input")))
    return moved


def validate_entry(root: type[Entry], data: Any, context: Any) -> Entry:
    """One entry of a family: shape checks, then the kind's own model; all errors at once."""
    if isinstance(data, root):
        return data  # built in Python already (a copied scenario)
    if not isinstance(data, Mapping):
        raise expected(root.entry_expected())
    outer = root.yaml_keys()
    kinds = root.kinds
    problems: list[InitErrorDetails] = []
    present = [key for key in data if key in kinds]
    unknown = [key for key in data if key not in kinds and key not in outer]
    for key in unknown:
        problems.append(_error((key,), root.entry_expected(), _unknown(key, [*outer, *kinds])))
    for extra in present[1:]:
        problems.append(_error((extra,), f"one {root.noun} per entry", f"{extra!r} besides {present[0]!r}"))
    variant = kinds[present[0]] if present else root
    kind = variant.kind
    flat: dict[str, Any] = {key: data[key] for key in outer if key in data}
    scalar_body = False
    unfilled: set[str] = set()
    if not present and not unknown:
        problems.append(_error((), f"one {root.noun} among {', '.join(kinds)}", "nothing (key missing)"))
    if present:
        body = data[kind]
        own = variant.own_keys()
        if isinstance(body, Mapping):
            for key, value in body.items():
                if key in own:
                    flat[key] = value
                else:
                    problems.append(_error((kind, key), f"one of the keys {', '.join(own)}", _unknown(key, own)))
        elif variant.shorthand is not None and body is not None:
            flat[variant.shorthand] = body
            scalar_body = True
        elif body is not None:
            problems.append(_error((kind,), f"a mapping with keys {', '.join(own)}", data=body))
            variant = root  # its fields cannot be read; the family's still can
        for name, fact in variant.from_facts.items():
            if name not in flat:
                value = fact(context)
                if value is None:
                    unfilled.add(name)  # the fact's own error is reported
                else:
                    flat[name] = value
    flat["line"] = getattr(data, "line", 0)

    def where(loc: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
        if not loc:
            return (kind,) if present else loc  # a rule of the kind's fields: at its key
        if loc[0] in outer:
            return loc
        if loc[0] in unfilled:
            return None
        if scalar_body and loc[0] == variant.shorthand:
            return (kind, *loc[1:])
        return (kind, *loc)

    model: Entry | None = None
    try:
        model = variant.model_validate(flat if variant is not root else {k: v for k, v in flat.items() if k in outer or k == "line"}, context=context)
    except ValidationError as exc:
        problems.extend(_relocated(exc.errors(include_url=False), where))
    if problems:
        raise ValidationError.from_exception_data(root.__name__, problems)
    assert model is not None and variant is not root
    return model


@dataclass(frozen=True)
class Kinds:
    """``Annotated[Event, Kinds(Event)]``: one entry of the family, any registered kind."""

    root: type[Entry]

    @property
    def expected(self) -> str:
        return self.root.entry_expected()

    def _wrapped(self, data: Any, handler: Any, info: ValidationInfo) -> Entry:
        return validate_entry(self.root, data, info.context)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # The union of the kinds' schemas is never run (validate_entry dispatches on the key,
        # reading the registry when it runs); it is there so the kinds get $defs.
        kinds = list(self.root.kinds)
        union = cs.union_schema([handler.generate_schema(self.root.kinds[kind]) for kind in kinds])
        return cs.with_info_wrap_validator_function(self._wrapped, union, metadata={"kinds": kinds})

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """Each kind as written: the family's keys plus the kind key, whose value is the
        kind's own fields ($defs/<Class>), its shorthand, or null when all have defaults."""
        root = self.root
        outer = root.yaml_keys()
        options: list[JsonSchemaValue] = []
        kinds = (schema.get("metadata") or {}).get("kinds", [])
        for kind, choice in zip(kinds, schema["schema"]["choices"], strict=True):  # type: ignore[typeddict-item]
            variant = root.kinds[kind]
            body = handler.resolve_ref_schema(handler(choice))
            properties = body.get("properties", {})
            entry_properties = {key: properties.pop(key) for key in outer if key in properties}
            optional = {*outer, *variant.from_facts}
            body["required"] = [key for key in body.get("required", []) if key not in optional]
            if not body["required"]:
                del body["required"]
            ref: JsonSchemaValue = {DEF_MARK: variant.__name__, **body}  # moved to $defs by schema.py
            value: JsonSchemaValue = ref
            if variant.shorthand is not None:
                value = {"anyOf": [properties[variant.shorthand], ref]}
            elif all(not variant.model_fields[field_of(variant, name)].is_required() for name in variant.own_keys()):
                value = {"anyOf": [{"type": "null"}, ref]}
            entry_properties[kind] = {"title": kind, "description": first_paragraph(variant), **value}
            required = [key for key in outer if root.model_fields[key].is_required()]
            options.append(
                {
                    "title": kind,
                    "description": first_paragraph(variant),
                    "type": "object",
                    "properties": entry_properties,
                    "required": [*required, kind],
                    "additionalProperties": False,
                }
            )
        return {"title": root.__name__, "description": first_paragraph(root), "oneOf": options}
